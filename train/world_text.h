// world_text.h: the sentence and question templates of the world corpus.
//
// Each fact has several phrasings ("templates"); a biography picks one per
// fact, so across a person's biographies the same fact appears in different
// forms. A subject slot is filled with the full name or a pronoun (she/he).
//
// Pipeline position: [world corpus] -> text -> tokens -> tensors -> model.
#pragma once

#include <string>

#include "train/world.h"

namespace cpurich::world {

/// Number of sentence templates for `attribute` (the same for all, >= 5).
int num_sentence_templates(int attribute);
/// Number of question templates for `attribute`.
int num_question_templates(int attribute);

/// One biography sentence about `attribute` of `p` with template `t`;
/// `use_name` picks the full name as subject, else the pronoun.
std::string render_sentence(const Person& p, int attribute, int t, bool use_name);
/// One question about `attribute` of `p` with question template `t`.
std::string render_question(const Person& p, int attribute, int t);

}  // namespace cpurich::world
