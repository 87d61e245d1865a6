# The layers of the dory library, lowest first, in the order of the data flow: one static library per directory
# of src/ (dory_<dir>). Each line names a directory and the directories it USES: whose headers it includes and
# whose library it links, all declared above it. A directory may use only those (and, through them, what they
# use): src/CMakeLists.txt builds the libraries from this list (using a directory not declared above is a
# configure error), and src/check_layers.cmake rejects every #include "<dir>/..." in src/ that the list does not
# allow (in every build, before anything compiles, and as the test `layering`). In one line:
#
#   util <- ir <- onnx, reference, testnets <- target <- tiler <- memplan <- codegen <- eval <- report
#
# and above them all, tools/dory (the CLI), tests/ and bench/, which link the umbrella target `dory`.
# testnets writes ONNX models (for `dory netgen`, the tests and the benchmarks); nothing in src/ uses it.
dory_layer(util)                                            # diagnostics, byte sizes, .npy files
dory_layer(ir USES util)                                    # the integer IR, its checks and storage order
dory_layer(onnx USES ir util)                               # ONNX -> IR
dory_layer(reference USES ir util)                          # the bit-exact executor, tensor I/O, DORY goldens
dory_layer(testnets USES util)                              # synthetic ONNX networks
dory_layer(target USES ir util)                             # target descriptions, the kernel registry, the cost model
dory_layer(tiler USES target ir util)                       # geometry, L1 layout, transfers, latency, search
dory_layer(memplan USES tiler ir util)                      # the static L2 plan: constants and activations
dory_layer(codegen USES memplan tiler target reference ir util)  # deployment, schedule check, C emitter, runs
dory_layer(eval USES codegen tiler target ir util)          # evaluation modes, energy, executed counts
dory_layer(report USES eval codegen memplan tiler target ir util)  # text, JSON, SVG and HTML reports
