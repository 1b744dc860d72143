package translations

import "testing"

func TestNeeded(t *testing.T) {
	cases := []struct {
		env  map[string]string
		want bool
	}{
		{env: nil, want: false},
		{env: map[string]string{"LANG": "C.UTF-8"}, want: false},
		{env: map[string]string{"LANG": "en_US.UTF-8"}, want: false},
		{env: map[string]string{"LANG": "POSIX"}, want: false},
		{env: map[string]string{"LANG": "de_DE.UTF-8"}, want: true},
		{env: map[string]string{"LANG": "de_DE.UTF-8", "LC_MESSAGES": "en_GB"}, want: false},
		{env: map[string]string{"LANG": "en_US", "LC_ALL": "ja_JP"}, want: true},
	}
	for _, tc := range cases {
		if got := needed(func(k string) string { return tc.env[k] }); got != tc.want {
			t.Errorf("needed(%v) = %v, want %v", tc.env, got, tc.want)
		}
	}
}
