// Package study runs and aggregates studies of the charlm reference
// experiment: sets of runs, one per (configuration, seed), each a charlm
// command line whose results JSON is named "<config>-seed<S>-steps<N>.json"
// (ResultsFileName), as the Runner and the charlm command write
// them.
//
// It has four parts:
//
//   - Running (RunSpec, Runner): a run is a configuration name, a seed and
//     charlm's arguments (charlm.ParseFlags); the Runner trains it in-process
//     and writes its results through a temporary file renamed into place, so
//     a study that is interrupted resumes where it stopped: runs whose results
//     exist are skipped, runs with a checkpoint directory resume from it.
//   - Loading (LoadDir, ReadResults): the results files of a directory, with
//     the runs in progress and the files that cannot be used, and why.
//   - Aggregating (Aggregate, Summary; internal/stats for MeanStd): per configuration,
//     the validation loss at each evaluation step as mean ± sample standard
//     deviation over seeds, the steps to reach the baseline's mean final
//     loss, and the final difference from the baseline.
//   - Reporting: markdown tables (WriteMarkdown, Table) and PNG plots
//     (WriteLossPlot for loss curves, XYPlot for one measurement against
//     another).
//
// internal/paper (every study of the paper, run by examples/paper) is built
// on it.
package study
