package source

import (
	"net/url"
	"regexp"
)

// userinfoInURL matches the user info of a URL ("scheme://user:pass@").
var userinfoInURL = regexp.MustCompile(`([A-Za-z][A-Za-z0-9+.-]*://)[^/@\s]+@`)

// scrubURLs replaces the user info of every URL in s, so credentials a user
// put into a repository or proxy URL never reach a log.
func scrubURLs(s string) string {
	return userinfoInURL.ReplaceAllString(s, "${1}redacted@")
}

// scrubURL is scrubURLs for one URL.
func scrubURL(u string) string { return scrubURLs(u) }

// userinfoPassword returns the password of a URL's user info, if any, so
// that it can be scrubbed wherever it appears.
func userinfoPassword(raw string) []string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return nil
	}
	if pw, ok := u.User.Password(); ok && pw != "" {
		return []string{pw}
	}
	return nil
}
