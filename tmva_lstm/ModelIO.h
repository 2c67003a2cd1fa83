// Model files (needs ROOT): the booking options, the layout and every weight under its true
// name, e.g. layer0_LSTM/W_f (H×D), layer0_LSTM/b_o (1×H), layer2_DENSE/W. Saving checks every
// write (a full disk included) into a temporary file that Replace.h renames over the target: an
// interrupted or failed save leaves the previous model intact, byte for byte, and no temporary
// file after a failure (one left by a killed save goes at the next save beside it).
// Integrity: the entry Checksums holds a CRC-32 of the header entries and of each layer's Layout
// and weight; loading verifies every one and refuses the file naming the entry that differs, and
// refuses per-layer layouts that disagree with the booking options.
#pragma once

#include "DeepNet.h"
#include "Options.h"
#include "Replace.h"

#include <TDirectory.h>
#include <TFile.h>
#include <TMatrixT.h>
#include <TNamed.h>
#include <TObjString.h>

#include <array>
#include <cstdint>
#include <map>
#include <sstream>
#include <cstdio>
#include <cstring>
#include <memory>
#include <sys/stat.h>
#include <stdexcept>
#include <string>
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
/// The object `name` (a path below the file) of a model file; an error says whether it is missing
/// (`missing` follows) or there but unreadable.
template <typename T>
std::unique_ptr<T> Get(TFile &file, const std::string &name, const std::string &path, const std::string &missing)
{
   std::unique_ptr<T> object(file.Get<T>(name.c_str()));
   if (object)
      return object;
   const size_t slash = name.rfind('/');
   TDirectory *dir = slash == std::string::npos ? &file : file.GetDirectory(name.substr(0, slash).c_str());
   if (dir && dir->GetKey(name.substr(slash == std::string::npos ? 0 : slash + 1).c_str()))
      throw std::invalid_argument("model file '" + path + "': entry '" + name + "' cannot be read: the file is damaged");
   throw std::invalid_argument("model file '" + path + "' has no '" + name + "' entry" + missing);
}
inline std::string ReadString(TFile &file, const std::string &name, const std::string &path,
                              const std::string &missing = ": not a tmva-lstm model")
{
   return Get<TNamed>(file, name, path, missing)->GetTitle();
}

/// CRC-32 (IEEE 802.3, as zlib's crc32) of n bytes, continuing from crc.
inline uint32_t Crc32(const void *data, size_t n, uint32_t crc = 0)
{
   static const std::array<uint32_t, 256> table = [] {
      std::array<uint32_t, 256> t{};
      for (uint32_t i = 0; i < 256; ++i) {
         uint32_t c = i;
         for (int k = 0; k < 8; ++k)
            c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
         t[i] = c;
      }
      return t;
   }();
   const auto *p = static_cast<const unsigned char *>(data);
   crc = ~crc;
   for (size_t k = 0; k < n; ++k)
      crc = table[(crc ^ p[k]) & 0xFF] ^ (crc >> 8);
   return ~crc;
}
/// Of a weight as the file holds it: its float64 values, little-endian.
inline uint32_t ValuesCrc(const double *v, size_t n)
{
   uint32_t crc = 0;
   for (size_t k = 0; k < n; ++k) {
      uint64_t bits;
      std::memcpy(&bits, &v[k], sizeof bits);
      unsigned char le[8];
      for (int b = 0; b < 8; ++b)
         le[b] = (unsigned char)(bits >> (8 * b));
      crc = Crc32(le, 8, crc);
   }
   return crc;
}
/// Of the header: each entry as name, NUL, value, NUL, in kHeaderEntries order.
inline constexpr const char *kHeaderEntries[] = {"BookingOptions", "Layout", "BatchSize", "Outputs", "Scalar"};
inline uint32_t HeaderCrc(const std::vector<std::string> &values)
{
   uint32_t crc = 0;
   for (size_t k = 0; k < values.size(); ++k) {
      crc = Crc32(kHeaderEntries[k], std::strlen(kHeaderEntries[k]) + 1, crc);
      crc = Crc32(values[k].c_str(), values[k].size() + 1, crc);
   }
   return crc;
}
inline uint32_t StringCrc(const std::string &s) { return Crc32(s.data(), s.size()); }
inline std::string Hex(uint32_t crc)
{
   char buf[9];
   std::snprintf(buf, sizeof buf, "%08x", crc);
   return buf;
}

/// The Checksums entry: "name crc" lines, parsed strictly.
inline std::map<std::string, std::string> ReadChecksums(TFile &file, const std::string &path)
{
   std::map<std::string, std::string> sums;
   std::istringstream lines(ReadString(file, "Checksums", path,
                                       ": damaged, or saved before tmva-lstm stored checksums (load it with that "
                                       "version and save it again)"));
   std::string name, crc;
   while (lines >> name >> crc)
      if (crc.size() != 8 || crc.find_first_not_of("0123456789abcdef") != std::string::npos ||
          !sums.emplace(name, crc).second)
         throw std::invalid_argument("model file '" + path + "': entry 'Checksums' is malformed at '" + name + "'");
   if (!lines.eof())
      throw std::invalid_argument("model file '" + path + "': entry 'Checksums' is malformed");
   return sums;
}
inline void Verify(const std::map<std::string, std::string> &sums, const std::string &name, uint32_t crc,
                   const std::string &path)
{
   const auto it = sums.find(name);
   if (it == sums.end())
      throw std::invalid_argument("model file '" + path + "': entry 'Checksums' has no checksum of '" + name + "'");
   if (it->second != Hex(crc))
      throw std::invalid_argument("model file '" + path + "': entry '" + name +
                                  "' does not match its checksum: the file was changed or damaged");
}
/// A positive count from a header entry.
inline size_t ReadCount(const std::string &value, const std::string &name, const std::string &path)
{
   const bool digits = !value.empty() && value.size() <= 9 && value.find_first_not_of("0123456789") == std::string::npos;
   if (!digits || std::stoul(value) == 0)
      throw std::invalid_argument("model file '" + path + "': entry '" + name + "' is '" + value +
                                  "', expected a positive integer below 10^9");
   return std::stoul(value);
}
} // namespace detail

template <typename Architecture_t>
void SaveModel(TDeepNet<Architecture_t> &net, const std::string &bookingOptions, const std::string &path)
{
   using Real = typename Architecture_t::Scalar_t;
   const auto write = [&](const std::string &tmp) {
      std::unique_ptr<TFile> file(TFile::Open(tmp.c_str(), "RECREATE"));
      if (!file || file->IsZombie())
         throw std::runtime_error("cannot create '" + tmp + "'");
      const std::vector<std::string> header = {bookingOptions, net.GetLayout(), std::to_string(net.GetBatchSize()),
                                               std::to_string(net.GetOutputCols()), sizeof(Real) == 4 ? "float" : "double"};
      for (size_t k = 0; k < header.size(); ++k)
         detail::WriteString(detail::kHeaderEntries[k], header[k]);
      std::string sums = "header " + detail::Hex(detail::HeaderCrc(header)) + "\n";
      for (size_t l = 0; l < net.GetDepth(); ++l) {
         auto &layer = net.GetLayerAt(l);
         const std::string name = net.GetLayerName(l);
         file->mkdir(name.c_str())->cd();
         detail::WriteString("Layout", layer.GetLayout());
         sums += name + "/Layout " + detail::Hex(detail::StringCrc(layer.GetLayout())) + "\n";
         for (auto &named : layer.GetNamedWeights()) {
            const auto &v = named.second;
            std::vector<Real> host(v.size());
            Architecture_t::CopyToHost(host.data(), host.size(), v);
            TMatrixT<double> m(int(v.rows), int(v.cols));
            for (size_t k = 0; k < host.size(); ++k)
               m.GetMatrixArray()[k] = double(host[k]); // exact for float and double
            detail::Written(m.Write(named.first.c_str()), "weight '" + name + "/" + named.first + "'");
            sums += name + "/" + named.first + " " + detail::Hex(detail::ValuesCrc(m.GetMatrixArray(), host.size())) +
                    "\n";
         }
         file->cd();
      }
      detail::WriteString("Checksums", sums);
      const Long64_t end = file->GetEND();
      file->Close(); // writes the keys and the header
      struct stat written;
      if (file->TestBit(TFile::kWriteError) || ::stat(tmp.c_str(), &written) != 0 || written.st_size < end)
         throw std::runtime_error("writing '" + tmp + "' failed (disk full?)");
   };
   try {
      detail::ReplaceFile(path, write);
   } catch (const detail::TUnsyncedRename &e) {
      throw std::runtime_error("the model was saved to '" + path + "', but " + e.what());
   } catch (const std::exception &e) {
      throw std::runtime_error("cannot save the model to '" + path + "': " + e.what() +
                               "; an existing file there is unchanged");
   }
}

namespace detail {
/// The header entries (kHeaderEntries order) and the checksums, the header checked against its
/// checksum.
inline std::pair<std::vector<std::string>, std::map<std::string, std::string>> ReadHeader(TFile &file,
                                                                                           const std::string &path)
{
   std::vector<std::string> header;
   for (const char *name : kHeaderEntries) // a file that is no model at all fails here first
      header.push_back(ReadString(file, name, path));
   auto sums = ReadChecksums(file, path);
   Verify(sums, "header", HeaderCrc(header), path);
   return {std::move(header), std::move(sums)};
}
} // namespace detail

/// One header entry of a model file: BookingOptions, Layout, BatchSize, Outputs or Scalar
/// (the header checked against its checksum).
inline std::string ReadModelEntry(const std::string &path, const char *name)
{
   std::unique_ptr<TFile> file(TFile::Open(path.c_str(), "READ"));
   if (!file || file->IsZombie())
      throw std::invalid_argument("cannot open model file '" + path + "'");
   const auto header = detail::ReadHeader(*file, path).first;
   for (size_t k = 0; k < header.size(); ++k)
      if (std::string(detail::kHeaderEntries[k]) == name)
         return header[k];
   throw std::invalid_argument(std::string("a model file has no header entry '") + name + "'");
}

/// The booking options a model file was saved with.
inline std::string ReadModelOptions(const std::string &path)
{
   return ReadModelEntry(path, "BookingOptions");
}

/// The network a model file holds. Every header entry, layer layout and weight is checked against
/// its checksum, the layouts against the booking options, the weight shapes against the layers,
/// before it is used; a mismatch is an error naming the entry.
template <typename Architecture_t>
std::unique_ptr<TDeepNet<Architecture_t>> LoadModel(const std::string &path)
{
   using Real = typename Architecture_t::Scalar_t;
   std::unique_ptr<TFile> file(TFile::Open(path.c_str(), "READ"));
   if (!file || file->IsZombie())
      throw std::invalid_argument("cannot open model file '" + path + "'");
   const auto [header, sums] = detail::ReadHeader(*file, path);
   TNetSpec spec;
   try {
      spec = ParseBookingOptions(header[0]);
   } catch (const std::invalid_argument &e) {
      throw std::invalid_argument("model file '" + path + "': entry 'BookingOptions': " + e.what());
   }
   const size_t batchSize = detail::ReadCount(header[2], "BatchSize", path);
   const size_t outputs = detail::ReadCount(header[3], "Outputs", path);
   if (header[4] != "float" && header[4] != "double")
      throw std::invalid_argument("model file '" + path + "': entry 'Scalar' is '" + header[4] +
                                  "', expected float or double");
   auto net = BuildDeepNet<Architecture_t>(spec, batchSize, outputs);
   if (net->GetLayout() != header[1])
      throw std::invalid_argument("model file '" + path + "': entry 'Layout' does not match its booking options");
   for (size_t l = 0; l < net->GetDepth(); ++l) {
      auto &layer = net->GetLayerAt(l);
      const std::string dir = net->GetLayerName(l);
      const std::string layout = detail::ReadString(*file, dir + "/Layout", path);
      detail::Verify(sums, dir + "/Layout", detail::StringCrc(layout), path);
      if (layout != layer.GetLayout())
         throw std::invalid_argument("model file '" + path + "': entry '" + dir + "/Layout' is '" + layout +
                                     "', but the booking options make it '" + layer.GetLayout() + "'");
      for (auto &named : layer.GetNamedWeights()) {
         const std::string key = dir + "/" + named.first;
         const auto m = detail::Get<TMatrixT<double>>(*file, key, path, "");
         auto &v = named.second;
         if (size_t(m->GetNrows()) != v.rows || size_t(m->GetNcols()) != v.cols || size_t(m->GetNoElements()) != v.size())
            throw std::invalid_argument("model file '" + path + "': weight '" + key + "' is " +
                                        std::to_string(m->GetNrows()) + "x" + std::to_string(m->GetNcols()) + " with " +
                                        std::to_string(m->GetNoElements()) + " values, the layer's is " +
                                        std::to_string(v.rows) + "x" + std::to_string(v.cols));
         detail::Verify(sums, key, detail::ValuesCrc(m->GetMatrixArray(), v.size()), path);
         std::vector<Real> host(v.size());
         for (size_t k = 0; k < host.size(); ++k)
            host[k] = Real(m->GetMatrixArray()[k]);
         Architecture_t::CopyFromHost(v, host.data(), host.size(), key);
      }
   }
   return net;
}

} // namespace tmva_lstm
