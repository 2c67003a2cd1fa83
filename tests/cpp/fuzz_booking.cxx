// The booking-string fuzz test (FuzzBooking.h): fuzz_booking [seed] [cases] [--show-accepted];
// exits 1 on any failure.
#include "FuzzBooking.h"

#include <cstdio>
#include <cstdlib>
#include <string>

int main(int argc, char **argv)
{
   const uint64_t seed = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 1;
   const size_t cases = argc > 2 ? std::strtoull(argv[2], nullptr, 10) : 3000;
   const tmva_lstm::fuzz::TReport report = tmva_lstm::fuzz::FuzzBookingStrings(seed, cases);
   if (argc > 3 && std::string(argv[3]) == "--show-accepted")
      for (const std::string &accepted : report.accepted)
         std::printf("accepted %s\n", accepted.c_str());
   for (const std::string &failure : report.failures)
      std::printf("FAIL %s\n", failure.c_str());
   std::printf("fuzz_booking seed %llu: %zu cases: %zu refused by the parser, %zu parsed but refused when built "
               "(layers that do not chain), %zu accepted, %zu failed\n",
               (unsigned long long)seed, report.cases, report.refused, report.unbuildable, report.accepted.size(),
               report.failures.size());
   return report.failures.empty() ? 0 : 1;
}
