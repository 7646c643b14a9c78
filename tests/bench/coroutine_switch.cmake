# The coroutine switch microbenchmark (Google Benchmark): the hand-written coro_switch next to
# ucontext and C++20 coroutines. Built here, run by hand (see docs/perf-workloads.md); ctest
# only runs it once briefly to make sure it still works, never to judge a time.
find_package(benchmark REQUIRED)
add_executable(coroutine_switch_bench ${CMAKE_CURRENT_LIST_DIR}/coroutine_switch.cpp
               ${CMAKE_CURRENT_LIST_DIR}/coroutine_switch_ret.S)
target_link_libraries(coroutine_switch_bench PRIVATE workloads_coro benchmark::benchmark)
add_test(NAME workloads.bench.coroutine_switch_smoke
         COMMAND coroutine_switch_bench --benchmark_min_time=0.001)
set_tests_properties(workloads.bench.coroutine_switch_smoke PROPERTIES LABELS workloads TIMEOUT 60)
