# aarch64-linux-gnu.cmake: cross-compiles cpurich for 64-bit ARM Linux with
# Debian's crossbuild-essential-arm64 and runs the results under qemu-aarch64.
#
# What it teaches: the same source builds for a CPU without any x86 SIMD; the
# x86 microkernels are left out (tensor/CMakeLists.txt compiles them only for
# x86-64) and the portable C++ kernels run. Tests run through
# CMAKE_CROSSCOMPILING_EMULATOR, so `ctest --preset aarch64` works unchanged.
#
# Needs (scripts/setup.sh --portable): crossbuild-essential-arm64, qemu-user,
# and the arm64 build of cpp-httplib (dpkg --add-architecture arm64;
# libcpp-httplib-dev:arm64). Header-only libraries (Catch2, nlohmann-json,
# CLI11) are shared with the host. The aarch64 preset leaves out the OpenBLAS
# reference backend: Debian's arm64 OpenBLAS hangs while it initialises under
# qemu-aarch64, before main().
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)

# Libraries and pkg-config files come from the arm64 multiarch directories;
# headers and CMake package files may also come from the host (header-only
# packages are installed once, for the build machine's architecture).
set(CMAKE_LIBRARY_ARCHITECTURE aarch64-linux-gnu)
set(CMAKE_FIND_ROOT_PATH /usr/aarch64-linux-gnu /usr/lib/aarch64-linux-gnu)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY BOTH)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE BOTH)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE BOTH)
set(ENV{PKG_CONFIG_LIBDIR} "/usr/lib/aarch64-linux-gnu/pkgconfig:/usr/share/pkgconfig")

# Run ARM binaries (test discovery and ctest) under user-mode qemu; -L points
# it at the ARM dynamic loader and libc.
set(CMAKE_CROSSCOMPILING_EMULATOR qemu-aarch64;-L;/usr/aarch64-linux-gnu)
