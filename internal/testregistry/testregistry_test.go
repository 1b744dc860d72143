package testregistry

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// TestNotify checks that a push reaches a notification endpoint with the
// bearer token, and that plain HTTP without auth serves pushes.
func TestNotify(t *testing.T) {
	type event struct {
		Action string `json:"action"`
		Target struct {
			Repository string `json:"repository"`
			Tag        string `json:"tag"`
			Digest     string `json:"digest"`
		} `json:"target"`
	}
	events := make(chan event, 16)
	endpoint := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.Header.Get("Authorization") != "Bearer s3cret" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		var envelope struct{ Events []event }
		if err := json.NewDecoder(req.Body).Decode(&envelope); err != nil {
			t.Errorf("decoding envelope: %v", err)
		}
		for _, e := range envelope.Events {
			events <- e
		}
	}))
	defer endpoint.Close()
	r := Start(t, Options{Notify: []Endpoint{{URL: endpoint.URL, Token: "s3cret"}}})
	digest := r.PushRandom(t, "veer/app:v1")
	timeout := time.After(10 * time.Second)
	for {
		select {
		case e := <-events:
			if e.Action == "push" && e.Target.Repository == "veer/app" && e.Target.Tag == "v1" && e.Target.Digest == digest {
				return
			}
		case <-timeout:
			t.Fatalf("no push event for veer/app:v1@%s\n%s", digest, r.Log())
		}
	}
}
