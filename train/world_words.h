// world_words.h: the word lists the fictional world is drawn from.
//
// All names, cities, universities and companies are invented for cpurich
// (a few first names carry diacritics, e.g. "Zoë", so the corpus exercises
// UTF-8). Each company has a fixed headquarters city: the world has some
// structure (employer -> work city) that a model can pick up.
//
// Pipeline position: [world corpus] -> text -> tokens -> tensors -> model.
#pragma once

#include <span>
#include <string_view>

namespace cpurich::world {

/// A company and the city of its headquarters.
struct Company {
  std::string_view name;  ///< e.g. "Lumenforge Systems"
  std::string_view city;  ///< one of cities()
};

std::span<const std::string_view> female_first_names();  ///< she/her
std::span<const std::string_view> male_first_names();    ///< he/his
std::span<const std::string_view> last_names();          ///< family names
std::span<const std::string_view> cities();              ///< birth and work cities
std::span<const std::string_view> universities();        ///< where people studied
std::span<const std::string_view> majors();              ///< fields of study
std::span<const std::string_view> occupations();         ///< job titles (lower case)
std::span<const Company> companies();                    ///< employers
std::span<const std::string_view> hobbies();             ///< free-time activities
std::span<const std::string_view> month_names();         ///< January .. December

}  // namespace cpurich::world
