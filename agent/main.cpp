#include "agent/agent.hpp"

int main(int argc, char** argv) { return vigie::agent::run(argc, argv); }
