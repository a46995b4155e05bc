// The `gan` program; everything lives in apps/cli.h so tests can run it in process.
#include "apps/cli.h"

int main(int argc, char** argv) { return gan::apps::run_cli(argc, argv); }
