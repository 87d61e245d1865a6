// dory CLI: parses flags and calls the library. Subcommands are added in tools/dory/commands_*.cpp.
int main() { return 0; }
