#include "Replace.h"

#include <csignal>
#include <dirent.h>
#include <fcntl.h>

namespace tmva_lstm {
namespace detail {

void Sync(const std::string &path, bool directory)
{
   const int fd = ::open(path.c_str(), O_RDONLY | (directory ? O_DIRECTORY : 0));
   if (fd < 0 || ::fsync(fd) != 0) {
      const std::string reason = std::strerror(errno);
      if (fd >= 0)
         ::close(fd);
      throw std::runtime_error("cannot sync '" + path + "' to disk: " + reason);
   }
   ::close(fd);
}

void RemoveStaleTemporaries(const std::string &path)
{
   const std::string dir = DirectoryOf(path);
   const size_t slash = path.rfind('/');
   const std::string prefix = path.substr(slash == std::string::npos ? 0 : slash + 1) + ".tmp";
   DIR *d = ::opendir(dir.c_str());
   if (!d)
      return;
   while (const dirent *entry = ::readdir(d)) {
      const std::string name = entry->d_name;
      if (name.compare(0, prefix.size(), prefix) != 0)
         continue;
      const std::string rest = name.substr(prefix.size());
      const size_t underscore = rest.find('_');
      if (underscore == 0 || underscore == std::string::npos ||
          rest.find_first_not_of("0123456789") != underscore || underscore > 9)
         continue;
      const pid_t pid = pid_t(std::stol(rest.substr(0, underscore)));
      if (::kill(pid, 0) != 0 && errno == ESRCH)
         std::remove((dir + "/" + name).c_str());
   }
   ::closedir(d);
}

} // namespace detail
} // namespace tmva_lstm
