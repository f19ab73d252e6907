// Names the calling thread, as `top -H`, `ps -L`, perf and /proc/<pid>/task/<tid>/comm show it
// (pipeline_bench reports the server's CPU per thread name). Linux keeps 15 bytes; longer names
// are cut. Best effort: a failure changes nothing else. Thread-safe (names the caller only).
#pragma once
#include <pthread.h>

#include <string>

namespace aaj {

inline void name_this_thread(const std::string& name) {
  (void)pthread_setname_np(pthread_self(), name.substr(0, 15).c_str());
}

}  // namespace aaj
