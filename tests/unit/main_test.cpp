#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include "common/logging.hpp"

int main(int argc, char** argv) {
  deltastream::setup_logging("off");  // the code under test logs; the report is doctest's
  return doctest::Context(argc, argv).run();
}
