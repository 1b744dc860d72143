package source

import (
	"archive/tar"
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/klauspost/compress/gzip"
)

// Bounds of a binary build's input, whatever it claims: a tar (or gzip)
// bomb fails the build instead of filling the node's disk.
var (
	// maxBinaryBytes bounds the bytes written, file contents summed.
	maxBinaryBytes int64 = 8 << 30
	// maxBinaryEntries bounds the archive's entries.
	maxBinaryEntries = 1 << 20
)

// ExtractBinary puts a binary build's input, read from r (the build pod's
// stdin), into workDir: written as the single file asFile when asFile is
// set, else extracted as a tar archive, gzip-compressed or not. Every
// entry is created through an os.Root of workDir, so nothing is written
// outside it whatever the links extracted before; entries that name a
// place outside (absolute paths, "..", links leading out) are refused, and
// so is an input beyond maxBinaryBytes or maxBinaryEntries.
func ExtractBinary(r io.Reader, workDir, asFile string) error {
	if err := os.MkdirAll(workDir, 0o755); err != nil {
		return err
	}
	root, err := os.OpenRoot(workDir)
	if err != nil {
		return err
	}
	defer root.Close()
	budget := &byteBudget{left: maxBinaryBytes}
	if asFile != "" {
		name, err := safeName(asFile)
		if err != nil || strings.Contains(name, "/") || name == "." {
			return fmt.Errorf("invalid asFile %q: it must name a file, not a path", asFile)
		}
		return writeEntry(root, name, r, 0o644, budget)
	}
	br := bufio.NewReader(r)
	magic, err := br.Peek(2)
	if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("reading the binary input: %w", err)
	}
	if len(magic) == 0 {
		return errors.New("the binary input is empty")
	}
	var in io.Reader = br
	if len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return fmt.Errorf("reading the gzip'd input: %w", err)
		}
		defer zr.Close()
		in = zr
	}
	return extractTar(tar.NewReader(in), root, budget)
}

// byteBudget counts what may still be written.
type byteBudget struct{ left int64 }

// writeEntry writes the file name of root from r, replacing what is there
// (a link is replaced, not written through), within the budget.
func writeEntry(root *os.Root, name string, r io.Reader, mode os.FileMode, budget *byteBudget) error {
	if err := root.Remove(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("extracting %s: %w", name, err)
	}
	f, err := root.OpenFile(name, os.O_CREATE|os.O_WRONLY|os.O_EXCL, mode)
	if err != nil {
		return fmt.Errorf("extracting %s: %w", name, err)
	}
	n, err := io.Copy(f, io.LimitReader(r, budget.left+1))
	budget.left -= n
	if err == nil && budget.left < 0 {
		err = fmt.Errorf("the binary input is larger than %d bytes", maxBinaryBytes)
	}
	if err != nil {
		f.Close()
		return fmt.Errorf("extracting %s: %w", name, err)
	}
	return f.Close()
}

// safeName cleans an archive entry name, refusing absolute names and
// names leaving the directory.
func safeName(name string) (string, error) {
	if strings.HasPrefix(name, "/") || filepath.IsAbs(name) {
		return "", fmt.Errorf("absolute path %q in the archive", name)
	}
	clean := path.Clean(name)
	if clean == ".." || strings.HasPrefix(clean, "../") {
		return "", fmt.Errorf("path %q leaves the directory", name)
	}
	return clean, nil
}

func extractTar(tr *tar.Reader, root *os.Root, budget *byteBudget) error {
	for entries := 0; ; entries++ {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("reading the archive: %w", err)
		}
		if entries >= maxBinaryEntries {
			return fmt.Errorf("the binary input has more than %d entries", maxBinaryEntries)
		}
		name, err := safeName(hdr.Name)
		if err != nil {
			return err
		}
		if name == "." {
			continue
		}
		if dir := path.Dir(name); dir != "." {
			if err := root.MkdirAll(dir, 0o755); err != nil {
				return fmt.Errorf("archive entry %q: %w", hdr.Name, err)
			}
		}
		mode := os.FileMode(hdr.Mode).Perm()
		switch hdr.Typeflag {
		case tar.TypeDir:
			if err := root.MkdirAll(name, mode|0o700); err != nil {
				return fmt.Errorf("archive entry %q: %w", hdr.Name, err)
			}
		case tar.TypeReg, tar.TypeRegA:
			if err := writeEntry(root, name, tr, mode|0o600, budget); err != nil {
				return err
			}
		case tar.TypeSymlink:
			// Links are created as they are (the root confines every later
			// use), but one that names a place outside is refused outright.
			if filepath.IsAbs(hdr.Linkname) {
				return fmt.Errorf("archive entry %q: absolute symlink target %q", hdr.Name, hdr.Linkname)
			}
			if _, err := safeName(path.Join(path.Dir(name), hdr.Linkname)); err != nil {
				return fmt.Errorf("archive entry %q: symlink target %q leaves the directory", hdr.Name, hdr.Linkname)
			}
			if err := root.Remove(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("archive entry %q: %w", hdr.Name, err)
			}
			if err := root.Symlink(hdr.Linkname, name); err != nil {
				return fmt.Errorf("archive entry %q: %w", hdr.Name, err)
			}
		case tar.TypeLink:
			linked, err := safeName(hdr.Linkname)
			if err != nil {
				return fmt.Errorf("archive entry %q: %w", hdr.Name, err)
			}
			if err := root.Remove(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("archive entry %q: %w", hdr.Name, err)
			}
			if err := root.Link(linked, name); err != nil {
				return fmt.Errorf("archive entry %q: %w", hdr.Name, err)
			}
		case tar.TypeXGlobalHeader, tar.TypeXHeader:
		default:
			// Devices, FIFOs: not source; skipped.
		}
	}
}
