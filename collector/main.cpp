#include "collector/collector.hpp"

int main(int argc, char** argv) { return vigie::collector::run(argc, argv); }
