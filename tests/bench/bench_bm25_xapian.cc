// bench_bm25_xapian: the Xapian peer of bench_bm25, a co-process driven over
// stdin/stdout so queries are timed inside one long-lived C++ process (no
// per-query process or interpreter overhead to subtract).  Built by `make
// bench` with g++ against Debian's libxapian-dev (1.4).
//
// Analysis is set to match syneg's as closely as Xapian allows: Porter stemmer
// (Xapian's "porter", the algorithm libstemmer's "porter" implements), every
// term stemmed (STEM_ALL: one term per word, as Lucene), Lucene's 33 English
// stop words removed from documents and queries (STOP_ALL: they do not count
// in document lengths, as in Lucene).  Scoring: BM25Weight(k1, k2 = 0, k3 = 1,
// b, min_normlen = 0), the same k1/b as syneg; queries are OR queries of the
// query's words (QueryParser, default operator OR), top-k by score.
//
// Commands, one a line; each answered with one line:
//   build DOCS K1 B     index DOCS (records separated by NUL bytes) into a new
//                       database in the folder given as argv[1]; answers
//                       "built WALL_S CPU_S PEAK_KB"
//   queries FILE        load queries, one a line; answers "ok N"
//   run K N             run the first N loaded queries for top K, one at a
//                       time; answers "ran WALL_S CPU_S HITS"
//   top K FILE          write each query's top K (0-based document numbers,
//                       space separated) to FILE, one line per query; "ok"
//   quit
#include <xapian.h>

#include <sys/resource.h>
#include <time.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

static double now()
{
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double cpu()
{
    rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

static long peak_kb()
{
    std::ifstream f("/proc/self/status");
    std::string line;
    while (std::getline(f, line))
        if (line.compare(0, 6, "VmHWM:") == 0) return std::atol(line.c_str() + 6);
    return -1;
}

static const char *const lucene_stop[] = {"a",     "an",   "and",   "are",  "as",   "at",   "be",    "but",  "by",
                                          "for",   "if",   "in",    "into", "is",   "it",   "no",    "not",  "of",
                                          "on",    "or",   "such",  "that", "the",  "their", "then", "there", "these",
                                          "they",  "this", "to",    "was",  "will", "with"};

int main(int argc, char **argv)
{
    if (argc != 2) {
        std::cerr << "usage: bench_bm25_xapian DBDIR (commands on stdin)\n";
        return 2;
    }
    std::ios::sync_with_stdio(false);
    Xapian::Stem stem("porter");
    Xapian::SimpleStopper stopper;
    for (const char *w : lucene_stop) stopper.add(w);
    std::unique_ptr<Xapian::Database> db;
    std::vector<std::string> queries;
    std::vector<Xapian::Query> parsed;
    double k1 = 0.9, b = 0.4;
    std::string line;
    while (std::getline(std::cin, line)) {
        std::istringstream in(line);
        std::string cmd;
        in >> cmd;
        try {
            if (cmd == "build") {
                std::string path;
                in >> path >> k1 >> b;
                double t0 = now(), c0 = cpu();
                {
                    Xapian::WritableDatabase w(argv[1], Xapian::DB_CREATE_OR_OVERWRITE | Xapian::DB_NO_TERMLIST);
                    Xapian::TermGenerator tg;
                    tg.set_stemmer(stem);
                    tg.set_stemming_strategy(Xapian::TermGenerator::STEM_ALL);
                    tg.set_stopper(&stopper);
                    tg.set_stopper_strategy(Xapian::TermGenerator::STOP_ALL);
                    std::ifstream f(path, std::ios::binary);
                    std::string text;
                    while (std::getline(f, text, '\0')) {
                        Xapian::Document d;
                        tg.set_document(d);
                        tg.index_text_without_positions(text);
                        w.add_document(d);
                    }
                    w.commit();
                    w.close();
                }
                db.reset(new Xapian::Database(argv[1]));
                std::cout << "built " << now() - t0 << " " << cpu() - c0 << " " << peak_kb() << std::endl;
            } else if (cmd == "queries") {
                std::string path;
                in >> path;
                std::ifstream f(path);
                queries.clear();
                std::string q;
                while (std::getline(f, q)) queries.push_back(q);
                std::cout << "ok " << queries.size() << std::endl;
            } else if (cmd == "run" || cmd == "top") {
                size_t k = 0, n = queries.size();
                std::string out;
                in >> k;
                if (cmd == "run") in >> n;
                else in >> out;
                if (!db) throw std::string("no database: build first");
                if (n > queries.size()) n = queries.size();
                Xapian::Enquire enq(*db);
                enq.set_weighting_scheme(Xapian::BM25Weight(k1, 0, 1, b, 0));
                Xapian::QueryParser qp;
                qp.set_stemmer(stem);
                qp.set_stemming_strategy(Xapian::QueryParser::STEM_ALL);
                qp.set_stopper(&stopper);
                qp.set_default_op(Xapian::Query::OP_OR);
                qp.set_database(*db);
                std::ofstream tf;
                if (cmd == "top") tf.open(out);
                double t0 = now(), c0 = cpu();
                long hits = 0;
                for (size_t i = 0; i < n; i++) {
                    // parsing is part of the query, as analysis is on syneg's side
                    enq.set_query(qp.parse_query(queries[i], 0));
                    Xapian::MSet m = enq.get_mset(0, (Xapian::doccount)k);
                    hits += m.size();
                    if (cmd == "top") {
                        bool first = true;
                        for (Xapian::MSetIterator it = m.begin(); it != m.end(); ++it, first = false)
                            tf << (first ? "" : " ") << *it - 1;
                        tf << "\n";
                    }
                }
                double wall = now() - t0, c = cpu() - c0;
                if (cmd == "top") std::cout << "ok" << std::endl;
                else std::cout << "ran " << wall << " " << c << " " << hits << std::endl;
            } else if (cmd == "quit") {
                break;
            } else {
                std::cout << "error unknown command " << cmd << std::endl;
            }
        } catch (const Xapian::Error &e) {
            std::cout << "error " << e.get_description() << std::endl;
        } catch (const std::string &e) {
            std::cout << "error " << e << std::endl;
        }
    }
    return 0;
}
