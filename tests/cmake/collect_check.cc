// Links promsqlite::prometheus_cpp (and, through it, prometheus-cpp::core):
// collects a file and prints it with prometheus-cpp's own serializer.
#include <prometheus/text_serializer.h>
#include <promsqlite/prometheus_cpp.h>

#include <iostream>

int main(int argc, char** argv) {
  if (argc != 2) return 2;
  promsqlite::FileCollectable file(argv[1], [](const std::string& error) { std::cerr << error << "\n"; });
  prometheus::TextSerializer().Serialize(std::cout, file.Collect());
  return 0;
}
