#include "args.h"

#include <cctype>
#include <charconv>
#include <cmath>
#include <cstring>
#include <set>

namespace promsqlite::cli {
namespace {

// Options that take a value; --help takes one only when one follows.
const std::set<std::string> kValueOptions = {"--db", "--mode", "--synchronous", "--label", "--exemplar", "--buckets", "--states", "--format", "--ttl",
                                             // push, remote-write
                                             "--gateway", "--job", "--grouping", "--method", "--url", "--timeout",
                                             "--retries", "--basic-auth", "--basic-auth-user", "--basic-auth-password-file",
                                             "--bearer-token-file", "--ca-file",
                                             // native histograms
                                             "--native-factor", "--native-zero-threshold", "--native-max-buckets"};

bool LooksLikeNumber(const std::string& arg) {
  if (arg.size() < 2 || arg[0] != '-') return false;
  char c = arg[1];
  return (c >= '0' && c <= '9') || c == '.' || arg == "-Inf" || arg == "-inf";
}

// A port in the flag's own value ("--port=9100", "--port 9100"), else the
// server's default, for the example in the hint.
std::string PortOf(const std::string& value) {
  bool digits = !value.empty() && value.size() <= 5;
  for (char c : value) digits = digits && c >= '0' && c <= '9';
  return digits ? value : "9186";
}

// Serving is promsqlite-server's: a listen flag given to the tool gets a
// pointer to it instead of a bare "unknown option".
std::string UnknownOption(const std::string& name, const std::string& value) {
  if (name != "--port" && name != "--listen" && name != "--web.listen-address") return "unknown option " + name;
  std::string port = PortOf(value.empty() ? value : value.substr(value.rfind(':') + 1));
  return "unknown option " + name + ": ports are for promsqlite-server, which serves the file " +
         "(promsqlite-server --db FILE --web.listen-address=:" + port + "); promsqlite only writes and reads it";
}

// A word as the shell would need it, for a command line shown in a hint.
std::string ShellWord(const std::string& word) {
  bool plain = !word.empty();
  for (char c : word) plain = plain && (std::isalnum(static_cast<unsigned char>(c)) || std::strchr("-_./=:,+%@", c));
  if (plain) return word;
  std::string out = "'";
  for (char c : word) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

// `time NAME cmd args` without "--": the words from `cmd` on would be read
// as promsqlite's own arguments and options.
UsageError TimeNeedsDashes(const std::string& name, char** words, int count) {
  std::string example = "promsqlite time " + ShellWord(name) + " --";
  for (int i = 0; i < count; ++i) {
    std::string word = ShellWord(words[i]);
    if (example.size() + word.size() > 100 || word.find_first_of("\n\r") != std::string::npos) {
      example += " ...";
      break;
    }
    example += " " + word;
  }
  return UsageError("time: put -- before the command to run: " + example);
}

}  // namespace

std::optional<std::string> Args::Option(const std::string& name) const {
  auto it = options.find(name);
  if (it == options.end()) return std::nullopt;
  return it->second;
}

Args ParseArgs(int argc, char** argv) {
  Args args;
  args.arguments.assign(argv + 1, argv + argc);
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--") {
      args.command_line.assign(argv + i + 1, argv + argc);
      break;
    }
    if (arg == "-h") {
      args.show_help = true;
      continue;
    }
    if (arg == "--version") {
      args.show_version = true;
      continue;
    }
    if (arg == "--yes") {
      args.yes = true;
      continue;
    }
    if (arg == "--send-native-histograms" || arg == "--repair") {  // switches (remote-write, check)
      args.options[arg] = "true";
      continue;
    }
    if (arg.size() > 1 && arg[0] == '-' && !LooksLikeNumber(arg)) {
      std::string name = arg, value;
      bool has_value = false;
      if (size_t eq = arg.find('='); arg.rfind("--", 0) == 0 && eq != std::string::npos) {
        name = arg.substr(0, eq);
        value = arg.substr(eq + 1);
        has_value = true;
      }
      if (name == "--help") {
        // "--help TEXT" sets a help text; a bare --help asks for usage.
        if (!has_value && i + 1 < argc && std::string(argv[i + 1]).rfind("--", 0) != 0) {
          value = argv[++i];
          has_value = true;
        }
        if (!has_value) {
          args.show_help = true;
          continue;
        }
        args.options["--help"] = value;
        continue;
      }
      if (!kValueOptions.count(name)) {
        if (!has_value && i + 1 < argc) value = argv[i + 1];
        throw UsageError(UnknownOption(name, value));
      }
      if (!has_value) {
        if (i + 1 >= argc) throw UsageError(name + " needs a value");
        value = argv[++i];
      }
      if (name == "--label" || name == "--exemplar") {
        size_t eq = value.find('=');
        if (eq == std::string::npos || eq == 0)
          throw UsageError(name + " needs KEY=VALUE, got \"" + value + "\"");
        std::string key = value.substr(0, eq);
        Labels& into = name == "--label" ? args.labels : args.exemplar;
        if (!into.emplace(key, value.substr(eq + 1)).second) throw UsageError(name + " " + key + " is given twice");
        if (name == "--exemplar") args.has_exemplar = true;
        continue;
      }
      if (name == "--grouping" && args.options.count(name)) {
        // --grouping repeats and keeps its order: values are kept NUL-separated
        // (argv strings cannot contain NUL).
        args.options[name] += '\0' + value;
        continue;
      }
      if (args.options.count(name)) throw UsageError(name + " is given twice");
      args.options[name] = value;
      continue;
    }
    if (args.command == "time" && args.positionals.size() == 1)
      throw TimeNeedsDashes(args.positionals[0], argv + i, argc - i);
    if (args.command.empty()) args.command = arg;
    else args.positionals.push_back(arg);
  }
  return args;
}

double ParseNumber(const std::string& text, const std::string& what) {
  std::string s = text;
  bool negative = false;
  if (!s.empty() && (s[0] == '+' || s[0] == '-')) {
    negative = s[0] == '-';
    s.erase(0, 1);
  }
  double value = 0;
  if (s == "Inf" || s == "inf" || s == "+Inf") {
    value = HUGE_VAL;
  } else if (s == "NaN" || s == "nan") {
    value = std::nan("");
  } else {
    auto res = std::from_chars(s.data(), s.data() + s.size(), value);
    if (s.empty() || res.ec != std::errc() || res.ptr != s.data() + s.size())
      throw UsageError(what + " must be a number, got \"" + text + "\"");
  }
  return negative ? -value : value;
}

std::vector<std::string> SplitList(const std::string& text) {
  std::vector<std::string> parts;
  size_t start = 0;
  for (size_t comma; (comma = text.find(',', start)) != std::string::npos; start = comma + 1)
    parts.push_back(text.substr(start, comma - start));
  parts.push_back(text.substr(start));
  return parts;
}

std::vector<double> ParseNumberList(const std::string& text, const std::string& what) {
  std::vector<double> values;
  for (const std::string& part : SplitList(text)) values.push_back(ParseNumber(part, what));
  return values;
}

}  // namespace promsqlite::cli
