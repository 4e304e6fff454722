//go:build xla

package backends

import (
	"github.com/gomlx/go-xla/compute/xla"
	"github.com/gomlx/go-xla/pjrt"
)

func init() {
	xlaProbe = probeXLA
}

// probeXLA looks for an installed PJRT plugin, without auto-installing one.
func probeXLA() string {
	plugins := pjrt.AvailablePlugins()
	if len(plugins) == 0 {
		return ""
	}
	for _, name := range xla.DefaultPlugins {
		if _, ok := plugins[name]; ok {
			return xla.BackendName + ":" + name
		}
	}
	for name := range plugins {
		return xla.BackendName + ":" + name
	}
	return ""
}
