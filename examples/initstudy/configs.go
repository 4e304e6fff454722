package main

import "github.com/ggprior/ggprior/examples/charlm/charlm"

// studyConfig is one initialization the study compares.
type studyConfig struct {
	// Name names the configuration in result file names and tables.
	Name string
	// Init and Beta are charlm's -init and -beta.
	Init, Beta string
}

// Names of the baseline and of the fitted-shape configuration.
const (
	baselineName = "normal02"
	fitName      = "gg-fit"
)

// studyConfigs are the study's configurations, the baseline first: the
// benchmark's normal(0, 0.02), He, and GG at the baseline's standard
// deviations with shapes 1 (Laplacian), 1.4, and 2 (the baseline in
// distribution). A "gg-fit" configuration (shapes fitted per layer kind to a
// trained baseline) is added when its shapes are known.
var studyConfigs = []studyConfig{
	{baselineName, charlm.InitNameNormal02, ""},
	{"he", charlm.InitNameHe, ""},
	{"gg-beta1.0", charlm.InitNameGG, "1.0"},
	{"gg-beta1.4", charlm.InitNameGG, "1.4"},
	{"gg-beta2.0", charlm.InitNameGG, "2.0"},
}

// studyConfigNames returns the names of studyConfigs.
func studyConfigNames() []string {
	names := make([]string, len(studyConfigs))
	for i, c := range studyConfigs {
		names[i] = c.Name
	}
	return names
}
