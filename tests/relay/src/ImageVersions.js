// Sample operations as a Relay app writes them: a refetchable Image that pages its versions
// with @connection, and a refetchable ImageVersion. relay-compiler compiles them against the
// checked-in schema.graphql (tests/relay/test_relay_compiler.py).
import { graphql } from "react-relay";

export const imagesQuery = graphql`
  query ImageVersionsImagesQuery($first: Int!) {
    images(first: $first, sortOrder: ASCENDING) {
      edges {
        node {
          id
          ...ImageVersions_image
        }
      }
    }
  }
`;

export const imageFragment = graphql`
  fragment ImageVersions_image on Image
  @refetchable(queryName: "ImageVersionsPaginationQuery")
  @argumentDefinitions(
    count: { type: "Int", defaultValue: 10 }
    cursor: { type: "String" }
  ) {
    imageName
    displayName
    versions(first: $count, after: $cursor)
      @connection(key: "ImageVersions_versions") {
      edges {
        node {
          id
          ...ImageVersions_version
        }
      }
    }
  }
`;

export const versionFragment = graphql`
  fragment ImageVersions_version on ImageVersion
  @refetchable(queryName: "ImageVersionRefetchQuery") {
    version
    imageVersionStatus
    baseImage
    aliases
  }
`;
