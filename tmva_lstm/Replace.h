// Writing a file so that it is whole or absent (POSIX; python/tmva_lstm/_io.py does the same for
// Python's files): write a temporary file with a unique name beside it, sync it, rename it over
// the target, sync the directory. A failure removes the temporary file and leaves the target as it
// was. Used by the model files (ModelIO.h) and the data generators (TutorialData.h); the POSIX
// parts are in Replace.cxx (cling cannot parse glibc's dirent.h).
#pragma once

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <string>
#include <unistd.h>

namespace tmva_lstm {
namespace detail {

/// The directory path is in ("." for a bare name).
inline std::string DirectoryOf(const std::string &path)
{
   const size_t slash = path.rfind('/');
   return slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
}

/// fsync of a file or directory (its entries: a rename); throws naming it.
void Sync(const std::string &path, bool directory);

/// Removes the temporary files of `path` (path.tmp<pid>_<n>) whose process no longer runs: what
/// a write killed with SIGKILL leaves behind.
void RemoveStaleTemporaries(const std::string &path);

/// The rename took place, but the directory could not be synced.
struct TUnsyncedRename : std::runtime_error {
   using std::runtime_error::runtime_error;
};

/// write(tmp) fills a temporary file beside `path`; it is then synced and renamed over `path`.
/// Any failure before the rename removes it and passes on; a failure to sync the directory after
/// it throws TUnsyncedRename.
template <typename Write>
void ReplaceFile(const std::string &path, Write write)
{
   static std::atomic<unsigned> count{0}; // one name per write, also between threads
   RemoveStaleTemporaries(path);
   const std::string tmp = path + ".tmp" + std::to_string(::getpid()) + "_" + std::to_string(count++);
   try {
      write(tmp);
      Sync(tmp, false);
      if (std::rename(tmp.c_str(), path.c_str()) != 0)
         throw std::runtime_error(std::string("cannot move it into place: ") + std::strerror(errno));
   } catch (...) {
      std::remove(tmp.c_str());
      throw;
   }
   try {
      Sync(DirectoryOf(path), true); // the rename itself, on disk
   } catch (const std::exception &e) {
      throw TUnsyncedRename(e.what());
   }
}

} // namespace detail
} // namespace tmva_lstm
