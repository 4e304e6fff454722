package charlm

import (
	"github.com/ggprior/ggprior/internal/outfile"
	"github.com/ggprior/ggprior/optimizers/dataparallel"
	"github.com/gomlx/compute"
	"github.com/pkg/errors"
)

// Job is a run ready to train, whichever way it trains: one Experiment, or
// the ranks of a data-parallel run (in-process workers, or this process's
// rank of a multi-process run). The charlm command and the study runner
// both train through it.
type Job struct {
	// Ranks are the experiments of this process: one for a single-process
	// run, every worker of an in-process data-parallel run, this process's
	// rank over a communicator.
	Ranks []*Experiment
	// Parallel is the data-parallel run; nil for a single process.
	Parallel *DataParallel
}

// NewJob prepares the run of cfg and train on backend, with the
// hyperparameter settings ("key=value;...", see parseSettings) applied to
// every rank's store: a data-parallel run over comm when comm is not nil, of
// train.Workers in-process workers when there are 2 or more, otherwise one
// Experiment. Each rank resumes from train.Checkpoint if it holds checkpoints.
// The hyperparameters are checked (their ranges, and a resume's against the
// checkpoint's: see TrainConfig.AllowChanges) before it returns.
// A train.Checkpoint that cannot be written (see outfile.CheckDir) is an
// error before anything else.
func NewJob(backend compute.Backend, cfg Config, train TrainConfig, comm dataparallel.Communicator, settings string) (*Job, error) {
	j := &Job{}
	if train.Checkpoint != "" {
		if err := outfile.CheckDir(train.Checkpoint); err != nil {
			return nil, errors.WithMessage(err, "-checkpoint")
		}
	}
	var err error
	switch {
	case comm != nil:
		j.Parallel, err = newDataParallelRank(backend, cfg, train, comm)
	case train.Workers >= 2:
		j.Parallel, err = newDataParallel(backend, cfg, train)
	default:
		var exp *Experiment
		if exp, err = NewExperiment(backend, cfg, train); err == nil {
			j.Ranks = []*Experiment{exp}
		}
	}
	if err != nil {
		return nil, err
	}
	if j.Parallel != nil {
		j.Ranks = j.Parallel.Ranks
	}
	for _, exp := range j.Ranks {
		if _, err := parseSettings(exp.Store, settings); err != nil {
			return nil, err
		}
		if err := exp.checkSettings(); err != nil {
			return nil, err
		}
	}
	return j, nil
}

// Lead returns the experiment that reports: the first rank of this process.
func (j *Job) Lead() *Experiment { return j.Ranks[0] }

// Run trains the job to its last step and returns the lead rank's results.
func (j *Job) Run() (*Results, error) {
	if j.Parallel != nil {
		return j.Parallel.Run()
	}
	return j.Ranks[0].Run()
}
