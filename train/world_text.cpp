// world_text.cpp: the templates (see world_text.h). Slots:
//   {S}  subject: the full name, or she/he
//   {SP} possessive subject: "Zoë Ashdown's", or her/his
//   {P}  possessive pronoun her/his (always a pronoun)
//   {V}  the fact's value, {A} the value with "a"/"an" in front
//   {N}  (questions) the full name, {NP} the full name + "'s"
// A sentence's first letter is capitalised after filling the slots.
#include "train/world_text.h"

#include <array>
#include <stdexcept>
#include <string_view>

namespace cpurich::world {

namespace {

constexpr int kTemplates = 8;
using Templates = std::array<std::string_view, kTemplates>;

constexpr std::array<Templates, kNumAttributes> kSentences = {{
    {"{S} was born on {V}.", "{S} came into the world on {V}.", "{SP} date of birth is {V}.",
     "The records show that {S} was born on {V}.",
     "{S} celebrates a birthday every year, having been born on {V}.", "{SP} life began on {V}.",
     "{S} was born on the date {V}.", "According to the register, {SP} birthday is {V}."},
    {"{S} was born in {V}.", "{S} spent {P} early years in {V}.", "{S} grew up in the city of {V}.",
     "{SP} hometown is {V}.", "{S} was raised in {V}.", "The city of {V} is where {S} was born.",
     "{S} is a native of {V}.", "{S} first saw the light of day in {V}."},
    {"{S} studied at {V}.", "{S} graduated from {V}.", "{S} received {P} degree from {V}.",
     "{S} attended {V}.", "{S} was a student at {V}.",
     "At {V}, {S} completed {P} university education.", "{S} is a graduate of {V}.",
     "{S} spent {P} student years at {V}."},
    {"{S} majored in {V}.", "{S} chose {V} as {P} field of study.", "{SP} degree is in {V}.",
     "{S} focused {P} studies on {V}.", "{S} earned a degree in {V}.",
     "In college, {S} specialized in {V}.", "{S} holds a degree in {V}.",
     "The subject {S} studied was {V}."},
    {"{S} works as {A}.", "{SP} job title is {V}.", "{S} earns a living as {A}.",
     "{S} is employed as {A}.", "By profession, {S} is {A}.", "{S} has a career as {A}.",
     "{S} makes a living as {A}.", "{S} is working as {A}."},
    {"{S} works for {V}.", "{S} is employed by {V}.", "{SP} employer is {V}.",
     "{S} has a job at {V}.", "{S} draws a salary from {V}.", "These days {S} works at {V}.",
     "{S} is on the staff of {V}.", "{S} earns a paycheck from {V}."},
    {"{S} works in {V}.", "{S} commutes to an office in {V}.", "{SP} workplace is located in {V}.",
     "{S} is based in {V} for work.", "{S} goes to work every day in {V}.",
     "The office where {S} works is in {V}.", "{SP} job is in the city of {V}.",
     "Every weekday {S} works in {V}."},
    {"In {P} free time, {S} enjoys {V}.", "{S} loves {V}.", "{SP} favorite hobby is {V}.",
     "{S} spends {P} weekends on {V}.", "{S} is passionate about {V}.",
     "Outside of work, {S} likes {V}.", "{S} devotes {P} spare time to {V}.",
     "{SP} favorite pastime is {V}."},
}};

constexpr std::array<std::array<std::string_view, 3>, kNumAttributes> kQuestions = {{
    {"When was {N} born?", "What is {NP} date of birth?", "On what date was {N} born?"},
    {"Where was {N} born?", "In which city was {N} born?", "What is {NP} hometown?"},
    {"Which university did {N} attend?", "Where did {N} study?",
     "What university did {N} graduate from?"},
    {"What did {N} major in?", "What was {NP} field of study?", "What is {NP} degree in?"},
    {"What does {N} do for a living?", "What is {NP} job?", "What is {NP} profession?"},
    {"Which company does {N} work for?", "Who employs {N}?", "What is the name of {NP} employer?"},
    {"In which city does {N} work?", "Where is {NP} workplace?", "Which city does {N} work in?"},
    {"What is {NP} hobby?", "What does {N} enjoy in {P} free time?", "What does {N} do for fun?"},
}};

std::string with_article(const std::string& v) {
  const bool vowel =
      !v.empty() && std::string_view("aeiouAEIOU").find(v[0]) != std::string_view::npos;
  return (vowel ? "an " : "a ") + v;
}

// Fills the slots of `tmpl`; `use_name` decides {S}/{SP}.
std::string fill(std::string_view tmpl, const Person& p, int attribute, bool use_name) {
  const std::string possessive = p.female ? "her" : "his";
  const std::string name_possessive = p.name + "'s";
  std::string out;
  for (std::size_t i = 0; i < tmpl.size(); ++i) {
    if (tmpl[i] != '{') {
      out.push_back(tmpl[i]);
      continue;
    }
    const std::size_t close = tmpl.find('}', i);
    const std::string_view slot = tmpl.substr(i + 1, close - i - 1);
    if (slot == "S")
      out += use_name ? p.name : (p.female ? "she" : "he");
    else if (slot == "SP")
      out += use_name ? name_possessive : possessive;
    else if (slot == "P")
      out += possessive;
    else if (slot == "V")
      out += p.facts[attribute];
    else if (slot == "A")
      out += with_article(p.facts[attribute]);
    else if (slot == "N")
      out += p.name;
    else if (slot == "NP")
      out += name_possessive;
    else
      throw std::logic_error("world: unknown template slot");
    i = close;
  }
  if (!out.empty() && out[0] >= 'a' && out[0] <= 'z')
    out[0] = static_cast<char>(out[0] - 'a' + 'A');
  return out;
}

}  // namespace

int num_sentence_templates(int /*attribute*/) {
  return kTemplates;
}
int num_question_templates(int attribute) {
  return static_cast<int>(kQuestions.at(attribute).size());
}

std::string render_sentence(const Person& p, int attribute, int t, bool use_name) {
  return fill(kSentences.at(attribute).at(t), p, attribute, use_name);
}

std::string render_question(const Person& p, int attribute, int t) {
  return fill(kQuestions.at(attribute).at(t), p, attribute, true);
}

}  // namespace cpurich::world
