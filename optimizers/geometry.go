package optimizers

import (
	"fmt"
	"github.com/ggprior/ggprior/internal/dotsum"
	"path"
	"slices"
	"strconv"
	"strings"

	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/ml/model/initializer"
	"github.com/gomlx/gomlx/support/exceptions"
)

// ParamGeometry is the hyperparameter of the space GCT's GG quantizer
// quantizes in, when the builder leaves it unset (GCTConfig.Geometry): a
// Geometry or its name, "gradient" (the default) or "adam".
const ParamGeometry = "gct_geometry"

// Geometry is the space in which GCT's GG quantizer rounds the gradients.
type Geometry string

const (
	// GeometryGradient quantizes the gradient itself: one step per tensor,
	// the same absolute error for every element.
	GeometryGradient Geometry = "gradient"

	// GeometryAdam quantizes the gradient divided element-wise by the inner
	// optimizer's scale s (Preconditioner.GradientScale: for Adam, the square
	// root of its second moment), and multiplies the decoded values by s:
	// Decoded = Ints * Step * s. Adam divides each gradient element by about
	// s, so an error in the gradient moves the update in proportion to 1/s;
	// rounding g/s at one step per tensor makes every element's error in the
	// update alike, where rounding g gives the elements of small s (small
	// gradients) errors far above their own size. s comes from the
	// optimizer's state, computed from the decoded gradients: every
	// data-parallel worker has the same, so it is not sent.
	GeometryAdam Geometry = "adam"
)

// Geometries are the valid Geometry values, the default first.
var Geometries = []Geometry{GeometryGradient, GeometryAdam}

// DefaultGeometry is the geometry when neither the builder nor the scope's
// ParamGeometry sets one.
const DefaultGeometry = GeometryGradient

// ParseGeometry returns the geometry named name ("gradient" or "adam").
func ParseGeometry(name string) (Geometry, error) { return parseName("geometry", name, Geometries) }

// parseName returns name as a T if it is one of valid, or an error that
// lists them.
func parseName[T ~string](kind, name string, valid []T) (T, error) {
	if slices.Contains(valid, T(name)) {
		return T(name), nil
	}
	quoted := make([]string, len(valid))
	for i, v := range valid {
		quoted[i] = strconv.Quote(string(v))
	}
	list := strings.Join(quoted[:len(quoted)-1], ", ") + " or " + quoted[len(quoted)-1]
	return "", fmt.Errorf("%s %q: want %s", kind, name, list)
}

// GeometryFromScope returns the geometry of the scope's ParamGeometry
// hyperparameter (a Geometry or its name; DefaultGeometry if unset). It
// panics (GoMLX style) on another value.
func GeometryFromScope(scope *model.Scope) Geometry {
	return Geometry(enumParam(scope, ParamGeometry, string(DefaultGeometry), func(s string) error {
		_, err := ParseGeometry(s)
		return err
	}))
}

// enumParam returns the scope's hyperparameter key, a string or a value of
// a string type (def if unset), checked by parse. It panics (GoMLX style) if
// the value is not text or parse refuses it.
func enumParam(scope *model.Scope, key, def string, parse func(string) error) string {
	value, found := scope.GetParam(key)
	if !found || value == nil {
		return def
	}
	var text string
	switch v := value.(type) {
	case string:
		text = v
	case fmt.Stringer:
		text = v.String()
	default:
		if s, ok := textOf(value); ok {
			text = s
		} else {
			exceptions.Panicf("optimizers.GCT: hyperparameter %s=%#v (%T), want a string", key, value, value)
		}
	}
	if err := parse(text); err != nil {
		exceptions.Panicf("optimizers.GCT: hyperparameter %s: %v", key, err)
	}
	return text
}

// textOf returns the text of a value of a string type (Geometry,
// Allocation, Reconstruction).
func textOf(value any) (string, bool) {
	switch v := value.(type) {
	case Geometry:
		return string(v), true
	case Allocation:
		return string(v), true
	case Reconstruction:
		return string(v), true
	}
	return "", false
}

// Preconditioner is an optimizer that divides each element of the gradient
// by a scale it keeps in its state (Adam and its kind: the square root of the
// second moment). GCT's GeometryAdam quantizes in its geometry. The inner
// optimizer of GCT may implement it; otherwise GCTConfig.Preconditioner gives
// one (AdamPreconditioner for GoMLX's optimizer.Adam).
type Preconditioner interface {
	// GradientScale returns the scale s (v's shape, values > 0) by which
	// the optimizer's next update divides v's gradient, up to a factor common
	// to the tensor, from its state before this step (so that, computed from
	// the decoded gradients of earlier steps, it is the same on every
	// data-parallel worker and in every graph of the step that asks for it).
	GradientScale(scope *model.Scope, g *Graph, v *model.Variable) *Node
}

// GeometryFloor is the least scale AdamPreconditioner gives an element,
// relative to the root mean square of the tensor's scales: it caps the
// weight of an element (1/s^2) at 100 times the tensor's mean, so that an
// element whose second moment is still near 0 (an embedding row not seen
// yet) does not turn a small gradient into a huge quantized value.
const GeometryFloor = 0.1

// AdamPreconditioner returns the Preconditioner of an Adam optimizer that
// keeps the second moment of variable v in the variable
// "<v.Name()>_2nd_moment" of the scope "/<scopeName>/<v.Scope()>", as GoMLX's
// optimizer.Adam does (scopeName optimizer.AdamDefaultScope, "AdamOptimizer",
// by default):
//
//	opt := optimizers.GCT(optimizer.Adam().Done()).Geometry(optimizers.GeometryAdam).
//		Preconditioner(optimizers.AdamPreconditioner(optimizer.AdamDefaultScope)).Done()
//
// Its scale is s = max(sqrt(m2), GeometryFloor * sqrt(mean(m2))), m2 the
// second moment before this step (Adam's epsilon, 1e-7 to 1e-8, is far below
// the floor; its bias correction is a factor common to the tensor), and 1
// everywhere while m2 is all zeros (the first step).
func AdamPreconditioner(scopeName string) Preconditioner {
	if scopeName == "" {
		exceptions.Panicf("optimizers.AdamPreconditioner: empty scope name")
	}
	return adamPreconditioner{scopeName: scopeName}
}

type adamPreconditioner struct{ scopeName string }

func (p adamPreconditioner) GradientScale(scope *model.Scope, g *Graph, v *model.Variable) *Node {
	momentScope := scope.Store().Scope(path.Join("/", p.scopeName, v.Scope())).WithInitializer(initializer.Zero)
	m2Var := momentScope.VariableWithShape(v.Name()+"_2nd_moment", v.Shape()).SetTrainable(false)
	return SecondMomentScale(m2Var.NodeValue(g))
}

// SecondMomentScale returns AdamPreconditioner's scale for the second
// moment m2: max(sqrt(m2), GeometryFloor * sqrt(mean(m2))), or 1 where m2 is
// all zeros. Optimizers that keep their moments elsewhere use it to
// implement Preconditioner.
func SecondMomentScale(m2 *Node) *Node {
	if !m2.DType().IsFloat() {
		exceptions.Panicf("optimizers.SecondMomentScale: second moment of dtype %s, want a float", m2.DType())
	}
	meanSq := dotsum.Mean(m2)
	floor := MulScalar(Sqrt(meanSq), GeometryFloor)
	s := Max(Sqrt(m2), floor)
	none := LessOrEqual(meanSq, ZerosLike(meanSq))
	return StopGradient(Where(none, OnesLike(s), s))
}

// checkScale panics unless s has x's dimensions, and returns it in x's dtype.
func checkScale(v *model.Variable, s, x *Node) *Node {
	if s == nil || !slices.Equal(s.Shape().Dimensions, x.Shape().Dimensions) || !s.DType().IsFloat() {
		got := "nil"
		if s != nil {
			got = s.Shape().String()
		}
		exceptions.Panicf("optimizers.GCT: the preconditioner's scale of %q is %s, want a float tensor of the gradient's dimensions %v",
			v.Path(), got, x.Shape().Dimensions)
	}
	if s.DType() != x.DType() {
		s = ConvertDType(s, x.DType())
	}
	return s
}
