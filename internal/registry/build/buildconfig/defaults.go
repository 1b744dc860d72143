// Package buildconfig is the REST storage of build.openshift.io/v1
// BuildConfigs: defaults, validation, the main and status strategies, the
// table oc prints and the store itself.
package buildconfig

import (
	buildv1 "github.com/openshift/api/build/v1"

	"github.com/slipway-dev/slipway/internal/registry/build/buildspec"
)

// DefaultHistoryLimit is how many successful and how many failed builds a
// BuildConfig created without limits keeps, as OpenShift's group API sets.
const DefaultHistoryLimit int32 = 5

// deprecatedTriggerTypes maps the lowercase trigger types of old clients to
// the current ones, as OpenShift's conversion does.
var deprecatedTriggerTypes = map[buildv1.BuildTriggerType]buildv1.BuildTriggerType{
	buildv1.GitHubWebHookBuildTriggerTypeDeprecated:  buildv1.GitHubWebHookBuildTriggerType,
	buildv1.GenericWebHookBuildTriggerTypeDeprecated: buildv1.GenericWebHookBuildTriggerType,
	buildv1.ImageChangeBuildTriggerTypeDeprecated:    buildv1.ImageChangeBuildTriggerType,
}

// SetDefaults applies the defaults OpenShift gives a BuildConfig on every
// write: runPolicy Serial, canonical trigger types, an empty imageChange
// section for ImageChange triggers (kind ImageStreamTag for their from), and
// the common spec defaults.
func SetDefaults(bc *buildv1.BuildConfig) {
	if bc.Spec.RunPolicy == "" {
		bc.Spec.RunPolicy = buildv1.BuildRunPolicySerial
	}
	for i := range bc.Spec.Triggers {
		t := &bc.Spec.Triggers[i]
		if current, ok := deprecatedTriggerTypes[t.Type]; ok {
			t.Type = current
		}
		if t.Type == buildv1.ImageChangeBuildTriggerType {
			if t.ImageChange == nil {
				t.ImageChange = &buildv1.ImageChangeTrigger{}
			}
			if from := t.ImageChange.From; from != nil && from.Kind == "" {
				from.Kind = buildspec.ImageStreamTagKind
			}
		}
	}
	buildspec.SetDefaults(&bc.Spec.CommonSpec)
}

// SetCreateDefaults applies SetDefaults plus what only a new BuildConfig
// gets: history limits of DefaultHistoryLimit when unset (an update that
// removes them keeps all builds, as in OpenShift).
func SetCreateDefaults(bc *buildv1.BuildConfig) {
	SetDefaults(bc)
	if bc.Spec.SuccessfulBuildsHistoryLimit == nil {
		limit := DefaultHistoryLimit
		bc.Spec.SuccessfulBuildsHistoryLimit = &limit
	}
	if bc.Spec.FailedBuildsHistoryLimit == nil {
		limit := DefaultHistoryLimit
		bc.Spec.FailedBuildsHistoryLimit = &limit
	}
}
