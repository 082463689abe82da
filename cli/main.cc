#include "cli/cli.h"

int main(int argc, char** argv) { return pelab::cli::main(argc, argv); }
