// Package paper is the library behind examples/paper: the command that
// reproduces every claim of the paper with one command (see Main).
//
// The work is a list of Stages (evidence, init, act, gct, dp, arch, mnist, size, speed),
// each a Stage: the charlm runs it needs (Needs), which a shared Plan trains
// once whichever stage needs them first (through internal/study's Runner,
// each run a charlm command line: Configs and Plan.Spec), and what it
// measures from them (Run), returned as a StageResult: the claims with
// their verdicts, tables with the commands that re-run their rows, figures,
// notes and every number. A Profile sets the size of everything: "quick" (a
// smoke test in minutes), "full" (the paper's 2000-step, 3-seed runs) and
// "tiny" (a test of the pipeline).
package paper
