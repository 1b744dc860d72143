package webhook

import (
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"strings"

	buildv1 "github.com/openshift/api/build/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/yaml"
)

// event is what a webhook call asks for.
type event struct {
	request buildv1.BuildRequest
	refs    refFilter
	// skip, when set, accepts the call without a build (a GitHub ping).
	skip string
}

// parser reads one kind of webhook call.
type parser func(h http.Header, body []byte, trigger *buildv1.BuildTriggerPolicy) (*event, error)

var parsers = map[string]parser{
	"generic":   parseGeneric,
	"github":    parseGitHub,
	"gitlab":    parseGitLab,
	"bitbucket": parseBitbucket,
}

// refFilter is the branch filter: the refs an event pushed and, when the
// payload says, the repository's default branch.
type refFilter struct {
	refs          []string
	defaultBranch string
	// any is set when the event names no ref at all (a bare generic call).
	any bool
}

func (f refFilter) String() string { return strings.Join(f.refs, ",") }

// match reports whether the event concerns the BuildConfig's branch. An
// empty git.ref means the repository's default branch (Slipway's
// documented difference from OpenShift, which assumes master): the
// payload's default branch when it names one, else main or master.
func (f refFilter) match(bc *buildv1.BuildConfig) bool {
	if f.any {
		return true
	}
	want := ""
	if bc.Spec.Source.Git != nil {
		want = strings.TrimPrefix(bc.Spec.Source.Git.Ref, "refs/heads/")
	}
	for _, ref := range f.refs {
		branch := strings.TrimPrefix(ref, "refs/heads/")
		switch {
		case want != "":
			if branch == want {
				return true
			}
		case f.defaultBranch != "":
			if branch == f.defaultBranch {
				return true
			}
		case branch == "main" || branch == "master":
			return true
		}
	}
	return false
}

func gitRevision(commit string, author, committer buildv1.SourceControlUser, message string) *buildv1.SourceRevision {
	return &buildv1.SourceRevision{Type: buildv1.BuildSourceGit, Git: &buildv1.GitSourceRevision{
		Commit: commit, Author: author, Committer: committer, Message: message,
	}}
}

// parseGeneric reads a generic call: an optional JSON or YAML
// GenericWebHookEvent. A payload that does not parse still starts a build,
// as in OpenShift; env is honoured only with allowEnv.
func parseGeneric(_ http.Header, body []byte, trigger *buildv1.BuildTriggerPolicy) (*event, error) {
	e := &event{refs: refFilter{any: true}}
	cause := buildv1.BuildTriggerCause{Message: "Generic WebHook", GenericWebHook: &buildv1.GenericWebHookCause{Secret: "<secret>"}}
	var payload buildv1.GenericWebHookEvent
	if len(strings.TrimSpace(string(body))) > 0 && yaml.Unmarshal(body, &payload) == nil {
		if g := payload.Git; g != nil {
			var refs []string
			if g.Ref != "" {
				refs = append(refs, g.Ref)
			}
			for _, r := range g.Refs {
				refs = append(refs, r.Ref)
			}
			if len(refs) > 0 {
				e.refs = refFilter{refs: refs}
			}
			e.request.Revision = gitRevision(g.Commit, g.Author, g.Committer, g.Message)
			cause.GenericWebHook.Revision = e.request.Revision
		}
		if trigger.GenericWebHook != nil && trigger.GenericWebHook.AllowEnv {
			e.request.Env = payload.Env
		}
		e.request.DockerStrategyOptions = payload.DockerStrategyOptions
	}
	e.request.TriggeredBy = []buildv1.BuildTriggerCause{cause}
	return e, nil
}

type gitHubUser struct {
	Name  string `json:"name"`
	Email string `json:"email"`
}

func (u gitHubUser) user() buildv1.SourceControlUser {
	return buildv1.SourceControlUser{Name: u.Name, Email: u.Email}
}

type gitHubPush struct {
	Ref        string `json:"ref"`
	After      string `json:"after"`
	HeadCommit *struct {
		ID        string     `json:"id"`
		Message   string     `json:"message"`
		Author    gitHubUser `json:"author"`
		Committer gitHubUser `json:"committer"`
	} `json:"head_commit"`
	Repository struct {
		DefaultBranch string `json:"default_branch"`
	} `json:"repository"`
}

func requireJSON(h http.Header) error {
	mediaType, _, err := mime.ParseMediaType(h.Get("Content-Type"))
	if err != nil || mediaType != "application/json" {
		return apierrors.NewBadRequest(fmt.Sprintf("non-json content type %q", h.Get("Content-Type")))
	}
	return nil
}

// parseGitHub reads a GitHub (or Gogs/Gitea) push; ping is answered
// without a build, other events are refused.
func parseGitHub(h http.Header, body []byte, _ *buildv1.BuildTriggerPolicy) (*event, error) {
	if err := requireJSON(h); err != nil {
		return nil, err
	}
	kind := h.Get("X-GitHub-Event")
	if kind == "" {
		kind = h.Get("X-Gogs-Event")
	}
	switch kind {
	case "ping":
		return &event{skip: "ping received"}, nil
	case "push":
	case "":
		return nil, apierrors.NewBadRequest("missing X-GitHub-Event or X-Gogs-Event header")
	default:
		return nil, apierrors.NewBadRequest(fmt.Sprintf("unknown X-GitHub-Event or X-Gogs-Event %q", kind))
	}
	var push gitHubPush
	if err := json.Unmarshal(body, &push); err != nil {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("parsing the GitHub push event: %v", err))
	}
	e := &event{refs: refFilter{refs: []string{push.Ref}, defaultBranch: push.Repository.DefaultBranch}}
	if c := push.HeadCommit; c != nil {
		e.request.Revision = gitRevision(c.ID, c.Author.user(), c.Committer.user(), c.Message)
	} else {
		e.request.Revision = gitRevision(push.After, buildv1.SourceControlUser{}, buildv1.SourceControlUser{}, "")
	}
	e.request.TriggeredBy = []buildv1.BuildTriggerCause{{Message: "GitHub WebHook",
		GitHubWebHook: &buildv1.GitHubWebHookCause{Revision: e.request.Revision, Secret: "<secret>"}}}
	return e, nil
}

type gitLabPush struct {
	Ref         string `json:"ref"`
	CheckoutSHA string `json:"checkout_sha"`
	Commits     []struct {
		ID      string     `json:"id"`
		Message string     `json:"message"`
		Author  gitHubUser `json:"author"`
	} `json:"commits"`
	Project struct {
		DefaultBranch string `json:"default_branch"`
	} `json:"project"`
}

// parseGitLab reads a GitLab "Push Hook"; the revision is the last commit.
func parseGitLab(h http.Header, body []byte, _ *buildv1.BuildTriggerPolicy) (*event, error) {
	if err := requireJSON(h); err != nil {
		return nil, err
	}
	if kind := h.Get("X-Gitlab-Event"); kind != "Push Hook" {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("unknown X-Gitlab-Event %q", kind))
	}
	var push gitLabPush
	if err := json.Unmarshal(body, &push); err != nil {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("parsing the GitLab push event: %v", err))
	}
	e := &event{refs: refFilter{refs: []string{push.Ref}, defaultBranch: push.Project.DefaultBranch}}
	if n := len(push.Commits); n > 0 {
		c := push.Commits[n-1]
		e.request.Revision = gitRevision(c.ID, c.Author.user(), c.Author.user(), c.Message)
	} else {
		e.request.Revision = gitRevision(push.CheckoutSHA, buildv1.SourceControlUser{}, buildv1.SourceControlUser{}, "")
	}
	e.request.TriggeredBy = []buildv1.BuildTriggerCause{{Message: "GitLab WebHook",
		GitLabWebHook: &buildv1.GitLabWebHookCause{CommonWebHookCause: buildv1.CommonWebHookCause{Revision: e.request.Revision, Secret: "<secret>"}}}}
	return e, nil
}

type bitbucketPush struct {
	// Bitbucket Cloud (repo:push).
	Push struct {
		Changes []struct {
			New *struct {
				Type   string `json:"type"`
				Name   string `json:"name"`
				Target struct {
					Hash    string `json:"hash"`
					Message string `json:"message"`
					Author  struct {
						Raw string `json:"raw"`
					} `json:"author"`
				} `json:"target"`
			} `json:"new"`
		} `json:"changes"`
	} `json:"push"`
	// Bitbucket Server (repo:refs_changed).
	Changes []struct {
		Ref struct {
			ID string `json:"id"`
		} `json:"ref"`
		ToHash string `json:"toHash"`
	} `json:"changes"`
}

// parseBitbucket reads a Bitbucket Cloud repo:push or Server
// repo:refs_changed event.
func parseBitbucket(h http.Header, body []byte, _ *buildv1.BuildTriggerPolicy) (*event, error) {
	if err := requireJSON(h); err != nil {
		return nil, err
	}
	kind := h.Get("X-Event-Key")
	if kind != "repo:push" && kind != "repo:refs_changed" {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("unknown X-Event-Key %q", kind))
	}
	var push bitbucketPush
	if err := json.Unmarshal(body, &push); err != nil {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("parsing the Bitbucket push event: %v", err))
	}
	e := &event{}
	for _, c := range push.Push.Changes {
		if c.New != nil && c.New.Type == "branch" {
			e.refs.refs = append(e.refs.refs, "refs/heads/"+c.New.Name)
			author := buildv1.SourceControlUser{Name: c.New.Target.Author.Raw}
			e.request.Revision = gitRevision(c.New.Target.Hash, author, author, c.New.Target.Message)
		}
	}
	for _, c := range push.Changes {
		e.refs.refs = append(e.refs.refs, c.Ref.ID)
		e.request.Revision = gitRevision(c.ToHash, buildv1.SourceControlUser{}, buildv1.SourceControlUser{}, "")
	}
	e.request.TriggeredBy = []buildv1.BuildTriggerCause{{Message: "Bitbucket WebHook",
		BitbucketWebHook: &buildv1.BitbucketWebHookCause{CommonWebHookCause: buildv1.CommonWebHookCause{Revision: e.request.Revision, Secret: "<secret>"}}}}
	return e, nil
}
