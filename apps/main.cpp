// The `gan` program; everything lives in apps/cli.h so tests can run it in process.
#include "apps/cli.h"
#include "kernels/blas_core.h"

int main(int argc, char** argv) {
  gan::kernels::rerun_with_matching_blas_core(argc, argv);  // OpenBLAS's fast kernels on CPUs it misreads
  return gan::apps::run_cli(argc, argv);
}
