// The single translation unit that holds Catch2's main(); every test folder
// links it, so each test file only includes <catch2/catch.hpp>.
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>
