package charlm

import (
	"testing"

	"github.com/gomlx/gomlx/ml/model"
	"github.com/stretchr/testify/require"
)

// TestKindOfVariable builds both architectures with an InitFn that records the
// kind the model gives each weight's scope, and checks that KindOfVariable
// finds that kind from every rank-2 variable's path, and no kind for the other
// variables and for optimizer state.
func TestKindOfVariable(t *testing.T) {
	seen := map[string]bool{}
	for _, arch := range []string{ArchGPT, ArchLlama} {
		t.Run(arch, func(t *testing.T) {
			m := newModel(tinyConfig(arch))
			kindOfScope := map[string]string{}
			baseline := initNormal02()
			m.Init = func(scope *model.Scope, kind string, std float64) model.VariableInitializer {
				kindOfScope[scope.Scope()] = kind
				return baseline(scope, kind, std)
			}
			store := newSeededStore(1)
			logitsExec(t, store, m).MustCall(tokensTensor("abcd"))
			n := 0
			for v := range store.IterVariables() {
				kind, ok := KindOfVariable(v.Path())
				if v.Shape().Rank() != 2 {
					require.False(t, ok, "%s (%s) has no kind", v.Path(), v.Shape())
					continue
				}
				scope, _ := model.SplitPath(v.Path())
				require.True(t, ok, "%s has a kind", v.Path())
				require.Equal(t, kindOfScope[scope], kind, v.Path())
				seen[kind] = true
				n++
			}
			require.Equal(t, len(kindOfScope), n, "every weight was found")
		})
	}
	require.Len(t, seen, len(Kinds), "both architectures together have every kind")
	for _, path := range []string{"/AdamW/block_000/attn/qkv/weights_1st_moment", "/AdamW/head/weights_2nd_moment",
		"/global_step", "/block_000/attn/qkv/biases", "/model/head/weights"} {
		_, ok := KindOfVariable(path)
		require.False(t, ok, path)
	}
}
