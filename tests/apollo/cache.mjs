// Apollo Client 4 with its default InMemoryCache (no typePolicies) against the live service:
// two overlapping queries, then the cache's contents.
//   node cache.mjs GRAPHQL_URL IMAGE_NAME
// Prints one JSON object: {"errors": [...], "entities": the cache's normalized entries by key}.
import { ApolloClient, HttpLink, InMemoryCache, gql } from "@apollo/client";

const [url, imageName] = process.argv.slice(2);
const client = new ApolloClient({
  link: new HttpLink({ uri: url }),
  cache: new InMemoryCache(),
});

// The same image and versions, reached two ways: by name with its versions, and by alias
// with its image.
const byImage = gql`
  query ByImage($imageName: String!) {
    image(imageName: $imageName) {
      id
      imageName
      displayName
      versions(first: 10) {
        edges { node { id version imageVersionStatus } }
      }
    }
  }
`;
const byVersion = gql`
  query ByVersion($imageName: String!) {
    imageVersion(imageName: $imageName, version: 1) {
      id
      version
      baseImage
      image { id imageName description }
    }
  }
`;

const errors = [];
for (const query of [byImage, byVersion]) {
  const result = await client.query({ query, variables: { imageName } });
  if (result.error) errors.push(String(result.error));
}
const { ROOT_QUERY, ...entities } = client.cache.extract();
process.stdout.write(JSON.stringify({ errors, entities }));
