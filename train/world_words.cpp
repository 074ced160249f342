// world_words.cpp: the lists themselves (see world_words.h). Invented for
// this project; edit freely, the tests only assume names are distinct words.
#include "train/world_words.h"

#include <array>

namespace cpurich::world {

namespace {

constexpr std::array<std::string_view, 40> kFemale = {
    "Zoë",    "Renée",    "Maëlle", "Anaïs",    "Ada",       "Brielle",  "Calla",   "Dorota",
    "Elowen", "Fenna",    "Greta",  "Hollis",   "Ilse",      "Junia",    "Kestra",  "Liora",
    "Maren",  "Nerys",    "Odile",  "Perpetua", "Quenby",    "Rosalind", "Saoirse", "Tamsin",
    "Ulla",   "Vesna",    "Wren",   "Xanthe",   "Yara",      "Zinnia",   "Amara",   "Bettina",
    "Cosima", "Delphine", "Esme",   "Farah",    "Gwenllian", "Honora",   "Isolde",  "Juno"};

constexpr std::array<std::string_view, 40> kMale = {
    "Björn",    "Søren",    "Joaquín", "Émile",  "Anselm",  "Bastian",  "Cormac", "Dariusz",
    "Evander",  "Florian",  "Gideon",  "Hale",   "Ivo",     "Jasper",   "Kael",   "Lucan",
    "Matthias", "Nestor",   "Orrin",   "Piers",  "Quill",   "Rafferty", "Silas",  "Torben",
    "Ulrich",   "Valentin", "Wendell", "Xavier", "Yorick",  "Zebedee",  "Alaric", "Bram",
    "Caspian",  "Desmond",  "Ewan",    "Fitz",   "Gaspard", "Hugo",     "Idris",  "Jonah"};

constexpr std::array<std::string_view, 60> kLast = {
    "Ashdown",     "Brightwater", "Calloway",  "Dunstable",    "Everhart",    "Fenwright",
    "Grimsby",     "Hollowell",   "Ironside",  "Jessop",       "Kettleburn",  "Larkmoor",
    "Marchbanks",  "Nettlefold",  "Ostrander", "Pennywhistle", "Quarrington", "Ravensworth",
    "Saltonstall", "Thornquist",  "Underhill", "Vantongeren",  "Whitlock",    "Yellowlees",
    "Zeddicus",    "Abernathy",   "Blackwood", "Coldwell",     "Dravenport",  "Eastwick",
    "Farrowdale",  "Goldbrook",   "Hartigan",  "Illingworth",  "Jorgenfeld",  "Kingsolver",
    "Lindqvist",   "Mossgrave",   "Northcott", "Oakenfold",    "Pemberton",   "Quickthorn",
    "Rushmore",    "Stillwater",  "Tremayne",  "Umberfield",   "Valcourt",    "Winterbourne",
    "Nyström",     "Castellanos", "Delacroix", "Ferreira",     "Gallagher",   "Haverford",
    "Istvanffy",   "Juneberry",   "Kowalczyk", "Lockhart",     "Montague",    "Nakashima"};

constexpr std::array<std::string_view, 32> kCities = {
    "Port Amberly",    "Eastmoor",     "Valdane",     "Kestrel Bay", "Northwick",   "Saltmarsh",
    "Brindleford",     "Larkspur",     "Ironvale",    "Glenhollow",  "Marisport",   "Tessaly",
    "Caldera Springs", "Westerholt",   "Oakhaven",    "Redfern",     "Silverbrook", "Dunmore Cross",
    "Pellham",         "Riverstead",   "Stonebridge", "Thistleby",   "Umberton",    "Windmere",
    "Yarrowdale",      "Zephyr Point", "Ashcombe",    "Crestfall",   "Foxmere",     "Greyport",
    "Juniper Falls",   "São Lírio"};

constexpr std::array<std::string_view, 20> kUniversities = {"Amberly Institute of Technology",
                                                            "the University of Northwick",
                                                            "Saltmarsh College",
                                                            "Kestrel Bay Polytechnic",
                                                            "Ironvale University",
                                                            "the Glenhollow School of Arts",
                                                            "Marisport State University",
                                                            "Tessaly Academy of Sciences",
                                                            "Westerholt University",
                                                            "the Royal College of Oakhaven",
                                                            "Redfern Technical University",
                                                            "Silverbrook University",
                                                            "Pellham Institute",
                                                            "the University of Riverstead",
                                                            "Stonebridge College",
                                                            "Windmere University",
                                                            "Yarrowdale Institute of Engineering",
                                                            "Crestfall University",
                                                            "the Foxmere Conservatory",
                                                            "Greyport Maritime Academy"};

constexpr std::array<std::string_view, 24> kMajors = {"marine biology",
                                                      "computer science",
                                                      "economics",
                                                      "mechanical engineering",
                                                      "philosophy",
                                                      "chemistry",
                                                      "linguistics",
                                                      "architecture",
                                                      "mathematics",
                                                      "medieval history",
                                                      "astronomy",
                                                      "nursing",
                                                      "graphic design",
                                                      "civil engineering",
                                                      "music theory",
                                                      "statistics",
                                                      "geology",
                                                      "political science",
                                                      "psychology",
                                                      "journalism",
                                                      "agricultural science",
                                                      "materials science",
                                                      "archaeology",
                                                      "urban planning"};

constexpr std::array<std::string_view, 24> kOccupations = {"software engineer",
                                                           "accountant",
                                                           "nurse",
                                                           "data analyst",
                                                           "marketing manager",
                                                           "electrician",
                                                           "chemist",
                                                           "product designer",
                                                           "sales representative",
                                                           "technical writer",
                                                           "logistics coordinator",
                                                           "financial advisor",
                                                           "mechanical engineer",
                                                           "pharmacist",
                                                           "journalist",
                                                           "translator",
                                                           "architect",
                                                           "laboratory technician",
                                                           "project manager",
                                                           "veterinarian",
                                                           "airline pilot",
                                                           "chef",
                                                           "librarian",
                                                           "teacher"};

constexpr std::array<Company, 30> kCompanies = {{{"Lumenforge Systems", "Port Amberly"},
                                                 {"Bramblecrest Foods", "Eastmoor"},
                                                 {"Tidewell Shipping", "Kestrel Bay"},
                                                 {"Corvid Analytics", "Northwick"},
                                                 {"Halcyon Motors", "Ironvale"},
                                                 {"Pinegate Pharmaceuticals", "Valdane"},
                                                 {"Quillstone Publishing", "Tessaly"},
                                                 {"Brightloom Textiles", "Brindleford"},
                                                 {"Northstar Turbines", "Westerholt"},
                                                 {"Glasswing Optics", "Larkspur"},
                                                 {"Copperleaf Bank", "Marisport"},
                                                 {"Driftwood Games", "Oakhaven"},
                                                 {"Emberline Energy", "Caldera Springs"},
                                                 {"Foxglove Health", "Foxmere"},
                                                 {"Granitehill Construction", "Stonebridge"},
                                                 {"Harborlight Insurance", "Greyport"},
                                                 {"Ivory Tower Consulting", "Redfern"},
                                                 {"Juniper Robotics", "Juniper Falls"},
                                                 {"Kiteworks Aerospace", "Zephyr Point"},
                                                 {"Lanternfish Media", "Saltmarsh"},
                                                 {"Millbrook Dairy", "Yarrowdale"},
                                                 {"Nimbus Cloudworks", "Silverbrook"},
                                                 {"Orchard Street Bakery", "Pellham"},
                                                 {"Pebblestone Logistics", "Riverstead"},
                                                 {"Quartzline Semiconductors", "Dunmore Cross"},
                                                 {"Riverbend Hospital", "Glenhollow"},
                                                 {"Saffron Table Restaurants", "Thistleby"},
                                                 {"Thornfield Architects", "Windmere"},
                                                 {"Umbra Security", "Crestfall"},
                                                 {"Verdant Seeds", "São Lírio"}}};

constexpr std::array<std::string_view, 24> kHobbies = {"rock climbing",
                                                       "knitting",
                                                       "birdwatching",
                                                       "chess",
                                                       "pottery",
                                                       "sailing",
                                                       "amateur astronomy",
                                                       "beekeeping",
                                                       "calligraphy",
                                                       "fencing",
                                                       "origami",
                                                       "trail running",
                                                       "woodworking",
                                                       "baking sourdough bread",
                                                       "playing the cello",
                                                       "kite flying",
                                                       "photography",
                                                       "gardening",
                                                       "archery",
                                                       "scuba diving",
                                                       "collecting old maps",
                                                       "salsa dancing",
                                                       "fly fishing",
                                                       "writing poetry"};

constexpr std::array<std::string_view, 12> kMonths = {
    "January", "February", "March",     "April",   "May",      "June",
    "July",    "August",   "September", "October", "November", "December"};

}  // namespace

std::span<const std::string_view> female_first_names() {
  return kFemale;
}
std::span<const std::string_view> male_first_names() {
  return kMale;
}
std::span<const std::string_view> last_names() {
  return kLast;
}
std::span<const std::string_view> cities() {
  return kCities;
}
std::span<const std::string_view> universities() {
  return kUniversities;
}
std::span<const std::string_view> majors() {
  return kMajors;
}
std::span<const std::string_view> occupations() {
  return kOccupations;
}
std::span<const Company> companies() {
  return kCompanies;
}
std::span<const std::string_view> hobbies() {
  return kHobbies;
}
std::span<const std::string_view> month_names() {
  return kMonths;
}

}  // namespace cpurich::world
