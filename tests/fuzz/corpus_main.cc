// Runs the fuzz target as a normal test: every file of the corpus, then
// seeded random inputs (mutations of the corpus and fresh bytes).
#include <dirent.h>

#include <cstdint>
#include <cstdio>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s CORPUS_DIR [RANDOM_INPUTS]\n", argv[0]);
    return 2;
  }
  std::vector<std::string> corpus;
  if (DIR* dir = opendir(argv[1])) {
    while (dirent* entry = readdir(dir)) {
      if (entry->d_name[0] == '.') continue;
      std::ifstream in(std::string(argv[1]) + "/" + entry->d_name, std::ios::binary);
      std::ostringstream bytes;
      bytes << in.rdbuf();
      corpus.push_back(bytes.str());
    }
    closedir(dir);
  }
  if (corpus.empty()) {
    std::fprintf(stderr, "no corpus in %s\n", argv[1]);
    return 1;
  }
  for (const std::string& input : corpus)
    LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(input.data()), input.size());
  long random_inputs = argc > 2 ? std::atol(argv[2]) : 20000;
  std::mt19937 rng(12345);
  for (long i = 0; i < random_inputs; ++i) {
    std::string input = corpus[rng() % corpus.size()];
    int mutations = 1 + static_cast<int>(rng() % 8);
    for (int m = 0; m < mutations; ++m) {
      size_t at = input.empty() ? 0 : rng() % (input.size() + 1);
      switch (rng() % 3) {
        case 0: input.insert(at, 1, static_cast<char>(rng())); break;
        case 1: if (!input.empty() && at < input.size()) input.erase(at, 1); break;
        default: if (at < input.size()) input[at] = static_cast<char>(rng()); break;
      }
    }
    LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(input.data()), input.size());
  }
  std::printf("%zu corpus inputs and %ld random inputs: no failure\n", corpus.size(), random_inputs);
  return 0;
}
