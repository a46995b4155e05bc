// How gan-engine's threads share the CPU, in every program that links the library: `gan`, the tests, the
// benchmarks and yours (nothing to call, no environment variable to set).
//
// One pool: the CPU kernels' OpenMP regions and OpenBLAS's GEMMs run on the same OpenMP threads (the build links
// OpenBLAS's OpenMP flavour; with a pthread OpenBLAS, kernels/cpu/gemm.cpp keeps it single-threaded), one per
// CPU the process may use: libgomp's default (the CPUs of the affinity mask), lowered to the CPU quota of the
// process's cgroup when it has a smaller one (a container limited to 2 CPUs on a 64-core host gets 2 threads,
// not 64). The data loader's prefetch thread runs everything it does on itself (use_one_thread_here), so it
// never starts a second team.
//
// Waiting: by default a libgomp thread that runs out of work spins for 300000 rounds of a pause instruction
// before it sleeps (libgomp's estimate is 3 ms; on CPUs whose pause takes ~140 cycles it is 10-20 ms), and a
// training step runs thousands of parallel regions. Alone on the machine that costs nothing; next to any other
// CPU-bound process the spinning threads take the cores the working ones need: issue 14 measured 100 steps of the
// CPU demo at 58 s against 11 s with PASSIVE on 2 cores. So gan-engine runs libgomp with OMP_WAIT_POLICY=PASSIVE:
// a waiting thread sleeps at once (benchmarks/run_busy_cpu.py measures default, PASSIVE and spinning side by side,
// on a busy and on an idle CPU).
//
// How: libgomp reads OMP_WAIT_POLICY and OMP_NUM_THREADS (and OpenBLAS reads OPENBLAS_CORETYPE,
// kernels/blas_core.h) once, when it loads: before main() and before any constructor of ours; a .preinit_array
// hook runs earlier but before the C library has set up the environment, so what it sets is lost. So every
// executable linking gan-engine carries a constructor (kernels/startup/, pulled in by the link option the
// gan::kernels target and gan-engine.pc carry) that, before main() and before the program's own constructors,
// sets what the environment lacks and re-executes the program once (/proc/self/exe, the same arguments).
// GAN_REEXEC_ADDED then names what was added; it stays in the environment of the programs it starts, which
// therefore inherit the same settings, and a variable it names is never added again (no second re-execution).
// Nothing is changed when the user set the variable (OMP_WAIT_POLICY or GOMP_SPINCOUNT; OMP_NUM_THREADS;
// OPENBLAS_CORETYPE), when GAN_REEXEC=0, or when the re-execution fails (no /proc): the program then goes on as
// it is. A shared library loaded with dlopen() never re-executes its host: the constructor lives in executables
// only (a shared library linked with gan-engine.pc's flags would carry it too: link those into executables).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace gan::kernels {

// One line for `gan info`: the OpenMP threads and the wait policy, and who chose them, e.g.
// "2 OpenMP threads, OMP_WAIT_POLICY=PASSIVE (set by gan-engine)".
std::string thread_policy_summary();

// For a helper thread (the data loader's): OpenMP regions it starts run on this thread alone, so its work never
// starts a second team of threads next to the kernels' one. Affects only the calling thread.
void use_one_thread_here();

// The whole CPUs a cgroup's quota allows, rounded up, from the text of a v2 "cpu.max" file ("QUOTA PERIOD";
// "max PERIOD" = no limit) or of v1's "QUOTA PERIOD" pair (cfs_quota_us, cfs_period_us; -1 = no limit);
// nullopt when unlimited or unreadable. Defined in the startup object (kernels/startup/); exposed for tests.
std::optional<int64_t> cpu_quota_from_cgroup_text(std::string_view text);

}  // namespace gan::kernels
