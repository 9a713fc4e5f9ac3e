// The option model of a command as JSON (--help-json), read from the CLI11 app itself, so
// that the completions, the man pages and their consistency test have one source of truth.
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "evt/cli.h"

namespace evt {
namespace {

using Json = nlohmann::ordered_json;

// A string, or null when it is empty.
Json TextOrNull(const std::string& text) { return text.empty() ? Json(nullptr) : Json(text); }

// The values an IsMember check accepts: CLI11 describes one as "{a,b,c}".
std::vector<std::string> Choices(const std::string& check) {
  std::vector<std::string> out;
  if (check.size() < 2 || check.front() != '{' || check.back() != '}') return out;
  std::string item;
  for (char c : check.substr(1, check.size() - 2)) {
    if (c == ',') {
      out.push_back(item);
      item.clear();
    } else {
      item += c;
    }
  }
  out.push_back(item);
  return out;
}

// CLI11's full type name is the placeholder followed by ":<check>" for each check that
// describes itself ("INT:INT in [1 - 1024]", "TEXT:{text,json}"). The checks are read one
// by one and their text taken off the end, since a placeholder may hold ':' itself
// ("'NAME: VALUE'").
void AddTypeAndChecks(const CLI::Option& opt, Json* o) {
  std::string type = opt.get_type_name();
  std::vector<std::string> descriptions;
  // CLI11 2.1 reads validators only through a non-const accessor; nothing is changed.
  auto& mutable_opt = const_cast<CLI::Option&>(opt);
  for (int i = 0;; ++i) {
    try {
      std::string d = mutable_opt.get_validator(i)->get_description();
      if (!d.empty()) descriptions.push_back(d);
    } catch (const CLI::OptionNotFound&) {
      break;
    }
  }
  Json checks = Json::array();
  Json choices = nullptr;
  for (auto d = descriptions.rbegin(); d != descriptions.rend(); ++d) {
    const std::string suffix = ":" + *d;
    if (type.size() >= suffix.size() &&
        type.compare(type.size() - suffix.size(), suffix.size(), suffix) == 0) {
      type.resize(type.size() - suffix.size());
    }
  }
  for (const std::string& d : descriptions) {
    if (std::vector<std::string> c = Choices(d); !c.empty() && choices.is_null()) {
      choices = c;
    } else {
      checks.push_back(d);
    }
  }
  (*o)["type"] = TextOrNull(type);
  (*o)["choices"] = choices;
  (*o)["checks"] = checks;
}

// The name --help shows first: the first long name, else the positional's, else the
// short one. (Option::get_name answers "" for a hidden option.)
std::string PrimaryName(const CLI::Option& opt) {
  if (!opt.get_lnames().empty()) return "--" + opt.get_lnames().front();
  if (opt.get_positional()) return opt.get_single_name();
  if (!opt.get_snames().empty()) return "-" + opt.get_snames().front();
  return "";
}

Json OptionModel(const CLI::Option& opt) {
  Json o;
  const bool positional = opt.get_positional();
  o["name"] = PrimaryName(opt);
  Json shorts = Json::array(), longs = Json::array();
  for (const std::string& s : opt.get_snames()) shorts.push_back("-" + s);
  for (const std::string& l : opt.get_lnames()) longs.push_back("--" + l);
  o["short"] = shorts;
  o["long"] = longs;
  o["positional"] = positional;
  // A flag expects no value (its type size may still be one).
  const bool takes_value = opt.get_items_expected_max() > 0;
  o["takes_value"] = takes_value;
  if (takes_value) {
    AddTypeAndChecks(opt, &o);
  } else {
    o["type"] = nullptr;
    o["choices"] = nullptr;
    o["checks"] = Json::array();
  }
  // A list option (-f, --header, the handler command) collects every occurrence.
  o["repeatable"] = opt.get_items_expected_max() > 1;
  o["default"] = TextOrNull(opt.get_default_str());
  o["env"] = TextOrNull(opt.get_envname());
  o["required"] = opt.get_required();
  o["hidden"] = opt.get_group().empty();
  Json excludes = Json::array();
  for (const CLI::Option* other : opt.get_excludes()) excludes.push_back(PrimaryName(*other));
  o["excludes"] = excludes;
  o["description"] = opt.get_description();
  return o;
}

Json AppModel(const CLI::App& app) {
  Json a;
  a["name"] = app.get_name();
  a["aliases"] = app.get_aliases();
  a["description"] = app.get_description();
  Json options = Json::array(), positionals = Json::array();
  for (const CLI::Option* opt : app.get_options()) {
    (opt->get_positional() ? positionals : options).push_back(OptionModel(*opt));
  }
  a["options"] = options;
  a["positionals"] = positionals;
  Json subcommands = Json::array();
  for (const CLI::App* sub : app.get_subcommands([](const CLI::App*) { return true; })) {
    // Option groups are nameless subcommands; their options belong to the parent.
    if (sub->get_name().empty()) {
      for (const CLI::Option* opt : sub->get_options()) {
        (opt->get_positional() ? a["positionals"] : a["options"]).push_back(OptionModel(*opt));
      }
      continue;
    }
    subcommands.push_back(AppModel(*sub));
  }
  a["subcommands"] = subcommands;
  a["require_subcommand"] = app.get_require_subcommand_min() > 0;
  return a;
}

}  // namespace

std::string HelpJson(const CLI::App& app) {
  Json doc;
  doc["help_json"] = 1;
  doc["version"] = VersionString();
  Json model = AppModel(app);
  for (auto& [key, value] : model.items()) doc[key] = value;
  return doc.dump(2);
}

CLI::Option* AddHelpJson(CLI::App& app) {
  if (CLI::Option* added = app.get_option_no_throw("--help-json"); added != nullptr) return added;
  const CLI::App* root = &app;
  // Handled the moment it is read (trigger_on_parse), before any other value is checked,
  // and answered as --version is: printed on stdout by ParseCommandLine, exit 0. Each
  // subcommand takes it too ("evt-x list --help-json") and prints the whole command's model.
  std::function<CLI::Option*(CLI::App&)> add = [&](CLI::App& to) {
    for (CLI::App* sub : to.get_subcommands([](CLI::App* s) { return !s->get_name().empty(); })) {
      add(*sub);
    }
    return to
        .add_flag_callback(
            "--help-json", [root]() { throw CLI::CallForVersion(HelpJson(*root), 0); },
            "Print the option model as JSON and exit")
        ->trigger_on_parse()
        ->configurable(false)
        ->group("");
  };
  return add(app);
}

}  // namespace evt
