package imageref

import "testing"

func TestParse(t *testing.T) {
	const digest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	tests := []struct {
		in      string
		want    Reference
		wantErr bool
	}{
		{in: "nginx", want: Reference{Path: "nginx"}},
		{in: "nginx:1.25", want: Reference{Path: "nginx", Tag: "1.25"}},
		{in: "library/nginx:latest", want: Reference{Path: "library/nginx", Tag: "latest"}},
		{in: "docker.io/library/nginx", want: Reference{Registry: "docker.io", Path: "library/nginx"}},
		{in: "localhost/app", want: Reference{Registry: "localhost", Path: "app"}},
		{in: "127.0.0.1:5000/ns/app:v1", want: Reference{Registry: "127.0.0.1:5000", Path: "ns/app", Tag: "v1"}},
		{in: "registry:5000/ns/app", want: Reference{Registry: "registry:5000", Path: "ns/app"}},
		{in: "quay.io/a/b@" + digest, want: Reference{Registry: "quay.io", Path: "a/b", Digest: digest}},
		{in: "quay.io/a/b:t@" + digest, want: Reference{Registry: "quay.io", Path: "a/b", Tag: "t", Digest: digest}},
		{in: "my_app__x.y-z", want: Reference{Path: "my_app__x.y-z"}},
		{in: "", wantErr: true},
		{in: "Nginx", wantErr: true},
		{in: "docker.io/Library/nginx", wantErr: true},
		{in: "nginx:", wantErr: true},
		{in: "nginx:-bad", wantErr: true},
		{in: "nginx@sha256:abc", wantErr: true},
		{in: "host:port/app", wantErr: true},
		{in: "docker.io/", wantErr: true},
		{in: "a//b", wantErr: true},
		{in: "with space", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := Parse(tt.in)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("Parse(%q) = %+v, want error", tt.in, got)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.in, err)
			}
			if got != tt.want {
				t.Fatalf("Parse(%q) = %+v, want %+v", tt.in, got, tt.want)
			}
			if got.String() != tt.in {
				t.Errorf("String() = %q, want %q", got.String(), tt.in)
			}
		})
	}
}

func TestExact(t *testing.T) {
	const digest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	r := Reference{Registry: "r:5000", Path: "ns/is", Tag: "latest", Digest: digest}
	if got, want := r.Exact(), "r:5000/ns/is@"+digest; got != want {
		t.Errorf("Exact() = %q, want %q", got, want)
	}
	r.Digest = ""
	if got, want := r.Exact(), "r:5000/ns/is:latest"; got != want {
		t.Errorf("Exact() = %q, want %q", got, want)
	}
}
