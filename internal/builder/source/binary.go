package source

import (
	"archive/tar"
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/klauspost/compress/gzip"
)

// ExtractBinary puts a binary build's input, read from r (the build pod's
// stdin), into workDir: written as the single file asFile when asFile is
// set, else extracted as a tar archive, gzip-compressed or not. Entries
// that would land outside workDir (absolute paths, "..", links leading
// out) are refused.
func ExtractBinary(r io.Reader, workDir, asFile string) error {
	if err := os.MkdirAll(workDir, 0o755); err != nil {
		return err
	}
	if asFile != "" {
		name, err := safeName(asFile)
		if err != nil || strings.Contains(name, "/") {
			return fmt.Errorf("invalid asFile %q: it must name a file, not a path", asFile)
		}
		f, err := os.OpenFile(filepath.Join(workDir, name), os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
		if err != nil {
			return err
		}
		if _, err := io.Copy(f, r); err != nil {
			f.Close()
			return fmt.Errorf("receiving %s: %w", name, err)
		}
		return f.Close()
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
	return extractTar(tar.NewReader(in), workDir)
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

func extractTar(tr *tar.Reader, root string) error {
	realRoot, err := filepath.EvalSymlinks(root)
	if err != nil {
		return err
	}
	// inside checks that dir, once its symlinks are resolved, is under
	// the root (a link extracted earlier cannot carry later entries out).
	inside := func(dir string) error {
		resolved, err := filepath.EvalSymlinks(dir)
		if err != nil {
			return err
		}
		if resolved != realRoot && !strings.HasPrefix(resolved, realRoot+string(filepath.Separator)) {
			return fmt.Errorf("%s leads out of the directory", dir)
		}
		return nil
	}
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("reading the archive: %w", err)
		}
		name, err := safeName(hdr.Name)
		if err != nil {
			return err
		}
		if name == "." {
			continue
		}
		target := filepath.Join(root, filepath.FromSlash(name))
		parent := filepath.Dir(target)
		if err := os.MkdirAll(parent, 0o755); err != nil {
			return err
		}
		if err := inside(parent); err != nil {
			return fmt.Errorf("archive entry %q: %w", hdr.Name, err)
		}
		mode := os.FileMode(hdr.Mode).Perm()
		switch hdr.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(target, mode|0o700); err != nil {
				return err
			}
			if err := inside(target); err != nil {
				return fmt.Errorf("archive entry %q: %w", hdr.Name, err)
			}
		case tar.TypeReg, tar.TypeRegA:
			_ = os.Remove(target) // never write through an existing link
			f, err := os.OpenFile(target, os.O_CREATE|os.O_WRONLY|os.O_EXCL, mode|0o600)
			if err != nil {
				return err
			}
			if _, err := io.Copy(f, tr); err != nil {
				f.Close()
				return fmt.Errorf("extracting %s: %w", name, err)
			}
			if err := f.Close(); err != nil {
				return err
			}
		case tar.TypeSymlink:
			if filepath.IsAbs(hdr.Linkname) {
				return fmt.Errorf("archive entry %q: absolute symlink target %q", hdr.Name, hdr.Linkname)
			}
			if _, err := safeName(path.Join(path.Dir(name), hdr.Linkname)); err != nil {
				return fmt.Errorf("archive entry %q: symlink target %q leaves the directory", hdr.Name, hdr.Linkname)
			}
			_ = os.Remove(target)
			if err := os.Symlink(hdr.Linkname, target); err != nil {
				return err
			}
		case tar.TypeLink:
			linked, err := safeName(hdr.Linkname)
			if err != nil {
				return fmt.Errorf("archive entry %q: %w", hdr.Name, err)
			}
			src := filepath.Join(root, filepath.FromSlash(linked))
			if err := inside(filepath.Dir(src)); err != nil {
				return fmt.Errorf("archive entry %q: %w", hdr.Name, err)
			}
			_ = os.Remove(target)
			if err := os.Link(src, target); err != nil {
				return err
			}
		case tar.TypeXGlobalHeader, tar.TypeXHeader:
		default:
			// Devices, FIFOs: not source; skipped.
		}
	}
}
