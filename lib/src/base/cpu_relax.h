// A hint to the CPU that this thread spins on a shared word (x86 PAUSE,
// ARM YIELD): the spinning core backs off and the owner's stores reach it
// sooner. Costs a few to a hundred cycles; never a system call.
#ifndef PROMSQLITE_SRC_BASE_CPU_RELAX_H_
#define PROMSQLITE_SRC_BASE_CPU_RELAX_H_

namespace promsqlite::detail {

inline void CpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

}  // namespace promsqlite::detail

#endif  // PROMSQLITE_SRC_BASE_CPU_RELAX_H_
