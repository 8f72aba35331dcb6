#include "console/console.hpp"

int main(int argc, char** argv) { return vigie::console::run(argc, argv); }
