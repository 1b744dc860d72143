package dockerfile

import (
	"errors"
	"fmt"
	"strings"
)

// KeyValue is one pair of an ENV or LABEL instruction; order matters (a
// later duplicate wins in the image).
type KeyValue struct {
	Key, Value string
}

// Instruction prints a one-line key=value instruction (ENV, LABEL) with
// every key and value double-quoted for a Dockerfile whose escape token is
// esc, so that spaces, quotes, "$" and the escape token reach the image
// literally instead of being expanded or split.
func Instruction(cmd string, kvs []KeyValue, esc rune) (string, error) {
	if len(kvs) == 0 {
		return "", errors.New(cmd + " needs at least one pair")
	}
	var b strings.Builder
	b.WriteString(cmd)
	for _, kv := range kvs {
		if kv.Key == "" {
			return "", errors.New("empty name")
		}
		// The parser splits a pair at its first "=", quotes or not.
		if strings.Contains(kv.Key, "=") {
			return "", fmt.Errorf("name %q contains \"=\"", kv.Key)
		}
		b.WriteByte(' ')
		b.WriteString(Quote(kv.Key, esc))
		b.WriteByte('=')
		b.WriteString(Quote(kv.Value, esc))
	}
	return b.String(), nil
}

// Quote double-quotes s for a Dockerfile whose escape token is esc: '"',
// '$' and esc are escaped; line breaks, which a Dockerfile line cannot
// hold, become spaces.
func Quote(s string, esc rune) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"', '$', esc:
			b.WriteRune(esc)
			b.WriteRune(r)
		case '\n', '\r':
			b.WriteByte(' ')
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}
