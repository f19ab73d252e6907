#include <CLI/CLI.hpp>

int main(int argc, char** argv) {
  CLI::App app{"aaj — information exchange system of law-enforcement, special state and other bodies"};
  app.require_subcommand(1);
  CLI11_PARSE(app, argc, argv);
  return 0;
}
