// Package translations makes kubectl's message catalogue load only when
// the user's language needs it. kubectl's packages call i18n.T while they
// initialise, and the first call parses the embedded catalogue (about 30 ms,
// the largest share of the start-up every slipway command, the builder in
// each build pod included, pays). English needs no catalogue: the
// messages are the catalogue's keys.
//
// Import it (for its init) from main: Go initialises packages that are
// ready in import path order, and github.com/slipway-dev/... comes before
// every k8s.io/kubectl/pkg/cmd/... package that calls i18n.T.
package translations

import (
	"os"
	"strings"

	"k8s.io/kubectl/pkg/util/i18n"
)

func init() {
	// An error means the catalogue was loaded already: nothing to save.
	_ = i18n.SetLoadTranslationsFunc(func() error {
		if !needed(os.Getenv) {
			return nil
		}
		return i18n.LoadTranslations("kubectl", nil)
	})
}

// needed reports whether the locale (LC_ALL, then LC_MESSAGES, then LANG,
// as kubectl reads them) asks for a language other than English.
func needed(getenv func(string) string) bool {
	lang := ""
	for _, name := range []string{"LC_ALL", "LC_MESSAGES", "LANG"} {
		if lang = getenv(name); lang != "" {
			break
		}
	}
	switch {
	case lang == "", lang == "C", lang == "POSIX", strings.HasPrefix(lang, "C."), strings.HasPrefix(lang, "en"):
		return false
	}
	return true
}
