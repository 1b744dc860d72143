package standby

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// Requested reports whether this process was started as a standby.
func Requested() bool {
	return len(os.Args) == 2 && os.Args[1] == Arg
}

// Serve waits for the command, takes over its stdio, environment and
// working directory, and returns what run returns for its arguments: the
// exit code. A standby whose parent goes away without a command exits 0.
func Serve(run func(args []string) int) int {
	req, err := receive()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return 0
		}
		fmt.Fprintf(os.Stderr, "standby: %v\n", err)
		return 1
	}
	return run(req.Args)
}

// receive reads the request and applies it to this process.
func receive() (*Request, error) {
	f := os.NewFile(handoverFD, "standby")
	c, err := net.FileConn(f)
	f.Close()
	if err != nil {
		return nil, fmt.Errorf("standby socket: %w", err)
	}
	conn, ok := c.(*net.UnixConn)
	if !ok {
		c.Close()
		return nil, fmt.Errorf("standby socket is a %T", c)
	}
	defer conn.Close()

	header := make([]byte, 8)
	oob := make([]byte, syscall.CmsgSpace(3*4))
	n, oobn, _, _, err := conn.ReadMsgUnix(header, oob)
	if n == 0 && err == nil {
		err = io.EOF
	}
	if err != nil {
		return nil, err
	}
	fds, err := rights(oob[:oobn])
	if err != nil {
		return nil, err
	}
	if _, err := io.ReadFull(conn, header[n:]); err != nil {
		return nil, fmt.Errorf("reading the request: %w", err)
	}
	length := binary.BigEndian.Uint64(header)
	if length > maxRequest {
		return nil, fmt.Errorf("request of %d bytes is too large", length)
	}
	payload := make([]byte, length)
	if _, err := io.ReadFull(conn, payload); err != nil {
		return nil, fmt.Errorf("reading the request: %w", err)
	}
	var req Request
	if err := json.Unmarshal(payload, &req); err != nil {
		return nil, fmt.Errorf("decoding the request: %w", err)
	}
	if err := apply(&req, fds); err != nil {
		_, _ = conn.Write([]byte{'x'})
		return nil, err
	}
	// The command is no standby's any more: it is not to die with the
	// thread that started this process (see start).
	if err := unix.Prctl(unix.PR_SET_PDEATHSIG, 0, 0, 0, 0); err != nil {
		_, _ = conn.Write([]byte{'x'})
		return nil, fmt.Errorf("clearing the parent-death signal: %w", err)
	}
	if _, err := conn.Write([]byte{'k'}); err != nil {
		return nil, fmt.Errorf("answering: %w", err)
	}
	return &req, nil
}

// rights returns the three descriptors attached to the header.
func rights(oob []byte) ([]int, error) {
	msgs, err := syscall.ParseSocketControlMessage(oob)
	if err != nil {
		return nil, fmt.Errorf("reading the stdio descriptors: %w", err)
	}
	var fds []int
	for i := range msgs {
		got, err := syscall.ParseUnixRights(&msgs[i])
		if err != nil {
			return nil, fmt.Errorf("reading the stdio descriptors: %w", err)
		}
		fds = append(fds, got...)
	}
	if len(fds) != 3 {
		for _, fd := range fds {
			syscall.Close(fd)
		}
		return nil, fmt.Errorf("got %d stdio descriptors, want 3", len(fds))
	}
	return fds, nil
}

// apply makes this process the requested command's: stdio, working
// directory, environment, os.Args.
func apply(req *Request, fds []int) error {
	for i, fd := range fds {
		if fd == i {
			continue
		}
		if err := syscall.Dup3(fd, i, 0); err != nil {
			return fmt.Errorf("taking over fd %d: %w", i, err)
		}
		syscall.Close(fd)
	}
	if req.Dir != "" {
		if err := os.Chdir(req.Dir); err != nil {
			return err
		}
	}
	os.Clearenv()
	for _, kv := range req.Env {
		for i := 0; i < len(kv); i++ {
			if kv[i] == '=' {
				if err := os.Setenv(kv[:i], kv[i+1:]); err != nil {
					return fmt.Errorf("setting %s: %w", kv[:i], err)
				}
				break
			}
		}
	}
	argv0 := req.Argv0
	if argv0 == "" {
		argv0 = os.Args[0]
	}
	os.Args = append([]string{argv0}, req.Args...)
	return nil
}
