// aaj — one binary, one subcommand per role of the system (see docs/api.md).
#include <pwd.h>
#include <signal.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <iostream>

#include "cli/commands.h"

int main(int argc, char** argv) {
  CLI::App app{
      "aaj — information exchange system of law-enforcement, special state and other bodies"};
  app.require_subcommand(1);
  aaj::cli::Commands cmds;
  cmds.attach(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  return cmds.exit_code();
}
