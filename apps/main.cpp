// The `gan` program; everything lives in apps/cli.h so tests can run it in process. The threading and OpenBLAS
// settings are applied before main() by the library itself (kernels/thread_policy.h).
#include "apps/cli.h"

int main(int argc, char** argv) { return gan::apps::run_cli(argc, argv); }
