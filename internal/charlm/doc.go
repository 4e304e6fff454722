// Package charlm is the project's reference experiment: a small byte-level
// language model ("charlm-small", about 0.87 M parameters) trained on a text that
// ships with every Go installation, exactly as the benchmark specification
// describes it: same data, model, optimizer, schedule and measurements, so that
// runs compare between versions and against independent implementations.
//
// It has four parts, each in its own files, all reusable by other examples and
// by the integration tests:
//
//   - The model ([Config], [Model]): a GPT-2 style transformer ("gpt", the
//     reference) or a Llama style one ("llama": RMSNorm, SwiGLU, rotary position
//     embeddings, no biases). Every weight matrix has a kind ([KindEmbed],
//     [KindAttnQKV], ...) and a baseline standard deviation, and the model asks a
//     pluggable [InitFn] for its initializer, so initialization strategies
//     ([initNormal02], [initHe], [initGG]) are swapped by name ([initByName]).
//   - The data ([Corpus], [Batches]): raw bytes, a 90/10 split, random training
//     windows from a seeded generator whose state is checkpointed, and the fixed,
//     deterministic validation windows. Besides Newton's Opticks (the
//     default), [CorpusGoSrc] is a 90 MB corpus that ships with Go too: its
//     own sources.
//   - The scale ladder ([Sizes], [ConfigForSize]): named model sizes from
//     "tiny" (137 K parameters) and "reference" (DefaultConfig, the CPU
//     sizes) to "gpt2-small" (86 M parameters, 1024-byte context), for
//     accelerators.
//   - The optimizer ([AdamW]): decoupled weight decay on rank-2 parameters only,
//     a global gradient-norm clip and the warmup + cosine learning-rate schedule
//     ([WarmupCosine]), as a GoMLX optimizer.Interface that can also apply given
//     gradients (train.OptimizeWithGradients), so compression wrappers can wrap it.
//   - The experiment ([Experiment], [Results]): trainer, training loop,
//     validation at fixed steps, bit-for-bit resumable checkpoints, and the JSON
//     results every run reports.
//   - The methods under study, chosen in [TrainConfig]: gradient compression
//     (Compress: AdamW wrapped in optimizers.GCT, with GCT's quantizer or a
//     baseline compressor; [GradientResults]), activation constraints
//     (ACTSites: layers.ACT at the [ActivationSites] through Model.Activation;
//     [ACTResults]) and in-process data-parallel training (Workers, run by
//     [DataParallel] over optimizers/dataparallel; [ParallelResults]). Their
//     hyperparameters live in the Store with the others (gct_*, act_*), their
//     state in non-trainable variables that checkpoints keep, and their
//     per-step metrics are StepOutputs (outputGradBits, outputACTSparsity).
//
// Typical use (see examples/charlm/main.go for the command line):
//
//	exp, err := charlm.NewExperiment(backend, charlm.DefaultConfig(), charlm.DefaultTrainConfig())
//	if err != nil { ... }
//	results, err := exp.Run()
package charlm
