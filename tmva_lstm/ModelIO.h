// Model files (needs ROOT): the booking options, the layout and every weight under its true
// name, e.g. layer0_LSTM/W_f (H×D), layer0_LSTM/b_o (1×H), layer2_DENSE/W. Saving writes a
// temporary file beside the target, checks every write (a full disk included), syncs it to disk,
// renames it over the target and syncs the directory: an interrupted or failed save leaves the
// previous model intact, byte for byte, and no temporary file after a failure.
#pragma once

#include "DeepNet.h"
#include "Options.h"

#include <TDirectory.h>
#include <TFile.h>
#include <TMatrixT.h>
#include <TNamed.h>
#include <TObjString.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <memory>
#include <sys/stat.h>
#include <stdexcept>
#include <string>
#include <unistd.h>
#include <vector>

namespace tmva_lstm {

namespace detail {
inline void Written(int bytes, const std::string &what)
{
   if (bytes <= 0)
      throw std::runtime_error("writing " + what + " failed");
}
inline void WriteString(const char *name, const std::string &value)
{
   Written(TNamed(name, value.c_str()).Write(), std::string("'") + name + "'");
}
/// fsync of a file or directory (its entries: the rename); throws naming it.
inline void Sync(const std::string &path, bool directory)
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
inline std::string ReadString(TFile &file, const char *name, const std::string &path)
{
   auto *object = file.Get<TNamed>(name);
   if (!object)
      throw std::invalid_argument("model file '" + path + "' has no '" + name + "' entry: not a tmva-lstm model");
   return object->GetTitle();
}
} // namespace detail

template <typename Architecture_t>
void SaveModel(TDeepNet<Architecture_t> &net, const std::string &bookingOptions, const std::string &path)
{
   using Real = typename Architecture_t::Scalar_t;
   static std::atomic<unsigned> saves{0}; // one temporary name per save, also between threads
   const std::string tmp = path + ".tmp" + std::to_string(::getpid()) + "_" + std::to_string(saves++);
   const size_t slash = path.rfind('/');
   const std::string dir = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
   try {
      std::unique_ptr<TFile> file(TFile::Open(tmp.c_str(), "RECREATE"));
      if (!file || file->IsZombie())
         throw std::runtime_error("cannot create '" + tmp + "'");
      {
         detail::WriteString("BookingOptions", bookingOptions);
         detail::WriteString("Layout", net.GetLayout());
         detail::WriteString("BatchSize", std::to_string(net.GetBatchSize()));
         detail::WriteString("Outputs", std::to_string(net.GetOutputCols()));
         detail::WriteString("Scalar", sizeof(Real) == 4 ? "float" : "double");
         for (size_t l = 0; l < net.GetDepth(); ++l) {
            auto &layer = net.GetLayerAt(l);
            TDirectory *dir = file->mkdir(net.GetLayerName(l).c_str());
            dir->cd();
            detail::WriteString("Layout", layer.GetLayout());
            for (auto &named : layer.GetNamedWeights()) {
               const auto &v = named.second;
               std::vector<Real> host(v.size());
               Architecture_t::CopyToHost(host.data(), host.size(), v);
               TMatrixT<double> m(int(v.rows), int(v.cols));
               for (size_t k = 0; k < host.size(); ++k)
                  m.GetMatrixArray()[k] = double(host[k]); // exact for float and double
               detail::Written(m.Write(named.first.c_str()), "weight '" + net.GetLayerName(l) + "/" + named.first + "'");
            }
            file->cd();
         }
      }
      const Long64_t end = file->GetEND();
      file->Close(); // writes the keys and the header
      struct stat written;
      if (file->TestBit(TFile::kWriteError) || ::stat(tmp.c_str(), &written) != 0 || written.st_size < end)
         throw std::runtime_error("writing '" + tmp + "' failed (disk full?)");
      detail::Sync(tmp, false);
      if (std::rename(tmp.c_str(), path.c_str()) != 0)
         throw std::runtime_error(std::string("cannot move it into place: ") + std::strerror(errno));
   } catch (const std::exception &e) {
      std::remove(tmp.c_str());
      throw std::runtime_error("cannot save the model to '" + path + "': " + e.what() +
                               "; an existing file there is unchanged");
   }
   try {
      detail::Sync(dir, true); // the rename itself, on disk
   } catch (const std::exception &e) {
      throw std::runtime_error("the model was saved to '" + path + "', but " + e.what());
   }
}

/// One header entry of a model file: BookingOptions, Layout, BatchSize, Outputs or Scalar.
inline std::string ReadModelEntry(const std::string &path, const char *name)
{
   std::unique_ptr<TFile> file(TFile::Open(path.c_str(), "READ"));
   if (!file || file->IsZombie())
      throw std::invalid_argument("cannot open model file '" + path + "'");
   return detail::ReadString(*file, name, path);
}

/// The booking options a model file was saved with.
inline std::string ReadModelOptions(const std::string &path)
{
   return ReadModelEntry(path, "BookingOptions");
}

template <typename Architecture_t>
std::unique_ptr<TDeepNet<Architecture_t>> LoadModel(const std::string &path)
{
   using Real = typename Architecture_t::Scalar_t;
   std::unique_ptr<TFile> file(TFile::Open(path.c_str(), "READ"));
   if (!file || file->IsZombie())
      throw std::invalid_argument("cannot open model file '" + path + "'");
   const TNetSpec spec = ParseBookingOptions(detail::ReadString(*file, "BookingOptions", path));
   const size_t batchSize = std::stoul(detail::ReadString(*file, "BatchSize", path));
   const size_t outputs = std::stoul(detail::ReadString(*file, "Outputs", path));
   auto net = BuildDeepNet<Architecture_t>(spec, batchSize, outputs);
   if (net->GetLayout() != detail::ReadString(*file, "Layout", path))
      throw std::invalid_argument("model file '" + path + "': its layout does not match its booking options");
   for (size_t l = 0; l < net->GetDepth(); ++l) {
      auto &layer = net->GetLayerAt(l);
      const std::string dir = net->GetLayerName(l);
      for (auto &named : layer.GetNamedWeights()) {
         const std::string key = dir + "/" + named.first;
         auto *m = file->Get<TMatrixT<double>>(key.c_str());
         if (!m)
            throw std::invalid_argument("model file '" + path + "' has no weight '" + key + "'");
         auto &v = named.second;
         if (size_t(m->GetNrows()) != v.rows || size_t(m->GetNcols()) != v.cols)
            throw std::invalid_argument("model file '" + path + "': weight '" + key + "' has the wrong shape");
         std::vector<Real> host(v.size());
         for (size_t k = 0; k < host.size(); ++k)
            host[k] = Real(m->GetMatrixArray()[k]);
         Architecture_t::CopyFromHost(v, host.data(), host.size(), key);
         delete m;
      }
   }
   return net;
}

} // namespace tmva_lstm
