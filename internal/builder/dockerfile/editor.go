package dockerfile

import (
	"bytes"
	"fmt"
	"strings"
	"unicode"
)

// editor applies line-range edits to a Dockerfile. Line numbers are the
// parser's: 1-based, counting every physical line (comments, continuation
// and heredoc lines included). Edits refer to the original numbering and
// are applied together by bytes.
type editor struct {
	lines    [][]byte // original lines, each with its line ending
	replaced map[int]replacement
	inserted map[int][]string // new lines after an original line
	appended []string
}

type replacement struct {
	end  int
	text string
}

func newEditor(in []byte) *editor {
	e := &editor{replaced: map[int]replacement{}, inserted: map[int][]string{}}
	for len(in) > 0 {
		i := bytes.IndexByte(in, '\n')
		if i < 0 {
			e.lines = append(e.lines, in)
			break
		}
		e.lines = append(e.lines, in[:i+1])
		in = in[i+1:]
	}
	return e
}

// replace replaces lines start..end with text.
func (e *editor) replace(start, end int, text string) {
	e.replaced[start] = replacement{end: end, text: text}
}

// insertAfter adds text as a new line after line n.
func (e *editor) insertAfter(n int, text string) {
	e.inserted[n] = append(e.inserted[n], text)
}

// append adds text as a new line at the end of the file.
func (e *editor) append(text string) {
	e.appended = append(e.appended, text)
}

// replaceFlag replaces the flag old by new within lines start..end, where
// the instruction holding it was written, keeping everything else as is.
func (e *editor) replaceFlag(start, end int, old, new string) error {
	for n := start; n <= end && n <= len(e.lines); n++ {
		line := e.lines[n-1]
		if r, ok := e.replaced[n]; ok {
			line = []byte(r.text + "\n")
		}
		for off := 0; ; {
			i := bytes.Index(line[off:], []byte(old))
			if i < 0 {
				break
			}
			i += off
			after := i + len(old)
			if after == len(line) || unicode.IsSpace(rune(line[after])) {
				edited := append(append(append([]byte{}, line[:i]...), new...), line[after:]...)
				e.replace(n, max(n, e.replaced[n].end), strings.TrimSuffix(strings.TrimSuffix(string(edited), "\n"), "\r"))
				return nil
			}
			off = after
		}
	}
	return fmt.Errorf("cannot find %q on lines %d-%d to replace it", old, start, end)
}

// bytes returns the edited file.
func (e *editor) bytes() []byte {
	var out bytes.Buffer
	newline := func() {
		if b := out.Bytes(); len(b) > 0 && b[len(b)-1] != '\n' {
			out.WriteByte('\n')
		}
	}
	for n := 1; n <= len(e.lines); n++ {
		if r, ok := e.replaced[n]; ok {
			newline()
			out.WriteString(r.text)
			out.WriteByte('\n')
			for ; n < r.end; n++ {
				e.writeInserted(&out, n, newline)
			}
		} else {
			out.Write(e.lines[n-1])
		}
		e.writeInserted(&out, n, newline)
	}
	for _, text := range e.appended {
		newline()
		out.WriteString(text)
		out.WriteByte('\n')
	}
	return out.Bytes()
}

func (e *editor) writeInserted(out *bytes.Buffer, n int, newline func()) {
	for _, text := range e.inserted[n] {
		newline()
		out.WriteString(text)
		out.WriteByte('\n')
	}
}
